// main.cpp: `unfold <group> <command> [flags]`. Parses nothing itself: it picks the group and
// turns unfold::Error into one line on stderr and exit code 1.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "cli_features.h"
#include "commands.h"
#include <memory>

#include "unfold/core/comm.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/dist/mpi.h"

namespace {

struct Group {
    const char* name;
    const char* summary;
    int (*run)(int, char**);
};

const Group kGroups[] = {
    {"demo", "run the main job: toy models of superposition, end to end, into one HTML report", unfold::cmd_demo},
    {"toy", "toy models of superposition: train, report, phase diagrams", unfold::cmd_toy},
    {"data", "synthetic activation sets with planted ground truth", unfold::cmd_data},
    {"sae", "sparse autoencoders: train, eval, encode, decode, report", unfold::cmd_sae},
    {"dict", "classical sparse coding (FISTA / OMP codes, unit-norm dictionary updates)", unfold::cmd_dict},
    {"lm", "transformers: generate, train on text, cache activations", unfold::cmd_lm},
    {"features", "what an SAE's features mean and do: database, show, trace, hypothesis, effect", unfold::cmd_features},
    {"serve", "browse a features database in a web browser (local server; live trace and steering)", unfold::cmd_serve},
};

void usage() {
    std::printf(
        "unfold: see how neural networks pack more features than neurons (superposition),\n"
        "and unfold their activations back into sparse, interpretable features.\n\n"
        "usage: unfold <group> <command> [flags]     (--help on every level)\n\ngroups:\n");
    for (const auto& g : kGroups) std::printf("  %-8s %s\n", g.name, g.summary);
    std::printf("\nStart with: unfold demo\n");
}

}  // namespace

// OpenMP threads that spin while idle steal the cores from BLAS and from other processes; on a shared or
// busy machine that makes multi-threaded runs several times slower. Likewise OpenBLAS's workers poll
// (sched_yield) for ~2^28 cycles after each product, competing with our OpenMP loops between products
// (measured: the fp32 transformer forward runs 6% faster with them sleeping at once). Both libraries read
// their settings when they load (before main), so when the user has not chosen a policy we set
// OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4 (unless set) and re-execute ourselves once.
// UNFOLD_NO_REEXEC=1 disables this.
static void ensure_passive_openmp(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("UNFOLD_NO_REEXEC")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
    setenv("UNFOLD_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}

int main(int argc, char** argv) {
    ensure_passive_openmp(argv);
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    unfold::install_interrupt_handler();
    // Under mpirun: MPI starts here, and the commands that run data-parallel take world_comm() (src/dist/).
    std::unique_ptr<unfold::MpiSession> mpi;
    try {
        mpi = std::make_unique<unfold::MpiSession>(&argc, &argv);
    } catch (const unfold::Error& e) {
        std::fprintf(stderr, "unfold: error: %s\n", e.what());
        return 1;
    }
    const unfold::Comm& world = unfold::world_comm();
    const std::string who = world.size() > 1 ? "rank " + std::to_string(world.rank()) + ": " : "";
    // an error on one rank ends every rank (the others would wait for it forever in the next collective)
    auto failed = [&](int code) {
        if (world.size() > 1) {
            std::fflush(stderr);
            world.abort(code);
        }
        return code;
    };
    try {
        if (world.size() > 1) {
            static const char* kParallel[][2] = {{"sae", "train"}};
            bool ok = false;
            for (const auto& c : kParallel) ok = ok || (argc >= 3 && !std::strcmp(argv[1], c[0]) && !std::strcmp(argv[2], c[1]));
            UNFOLD_CHECK(ok, "'unfold %s%s%s' does not run under mpirun (%d ranks would each run it whole); the "
                         "data-parallel commands: unfold sae train",
                         argv[1], argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "", world.size());
        }
        for (const auto& g : kGroups)
            if (!std::strcmp(argv[1], g.name)) return g.run(argc - 2, argv + 2);
        std::fprintf(stderr, "unfold: unknown group '%s' (see 'unfold --help')\n", argv[1]);
        return failed(2);
    } catch (const unfold::Cancelled& e) {
        std::fprintf(stderr, "unfold: %sinterrupted (%s)\n", who.c_str(), e.what());
        return 130;
    } catch (const unfold::Error& e) {
        std::fprintf(stderr, "unfold: %serror: %s\n", who.c_str(), e.what());
        return failed(1);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "unfold: %serror: out of memory\n", who.c_str());
        return failed(1);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "unfold: %serror: %s\n", who.c_str(), e.what());
        return failed(1);
    }
}
