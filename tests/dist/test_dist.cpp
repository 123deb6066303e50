// test_dist.cpp: data-parallel training. Without MPI: the parts a source is split into (disjoint, covering,
// the generated sources' parts side by side equal to the one-process batches) and the one-process Comm. With MPI
// (skipped with a message where unfold was built without it): `mpirun -np 2 unfold sae train` against the
// one-process run on the same rows (within float tolerance), resume under MPI, a resume with another rank count
// refused, a failing rank ending the job, and a command that does not run data-parallel refused.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "unfold/core/comm.h"
#include "unfold/data/source.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/sae/sae.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {

const std::string kBin = UNFOLD_BINARY;

std::string tmp(const std::string& name) {
    static const std::string dir = [] {
        std::string d = (fs::temp_directory_path() / ("unfold_test_dist_" + std::to_string(getpid()))).string();
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }();
    return dir + "/" + name;
}

// rows [n, 2]: row i = (i, -i)
std::string rows_npy(int64_t n) {
    const std::string p = tmp("rows_" + std::to_string(n) + ".npy");
    std::vector<float> x((size_t)(2 * n));
    for (int64_t i = 0; i < n; i++) x[2 * i] = (float)i, x[2 * i + 1] = -(float)i;
    npy_save(p, {n, 2}, x.data());
    return p;
}

std::vector<int64_t> ids_of_part(const std::string& path, int part, int parts, int64_t n) {
    SourceOptions o;
    o.sequential = true;
    o.part = part;
    o.parts = parts;
    auto s = open_source(path, o);
    std::vector<float> x((size_t)(2 * n));
    s->next_batch(x.data(), n);
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; i++) ids.push_back((int64_t)x[2 * i]);
    EXPECT_NE(s->describe().find(strformat("part %d of %d", part + 1, parts)), std::string::npos);
    return ids;
}

struct Proc {
    int code = -1;
    std::string out;
};

Proc sh(const std::string& cmd) {
    Proc r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = p ? pclose(p) : -1;
    r.code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// mpirun as CI runs it: as root in a container, 2 ranks on 2 cores, shared memory without ptrace
std::string mpirun(int np) {
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
           "OMPI_MCA_rmaps_base_oversubscribe=1 timeout 300 " UNFOLD_MPIEXEC " --bind-to none -np " +
           std::to_string(np) + " ";
}

bool have_mpi() { return std::string(UNFOLD_MPIEXEC).size() > 0 && fs::exists(UNFOLD_MPIEXEC); }

const char* kTrain =
    " sae train --input planted:d=24,features=48,p=0.06,seed=4 --arch topk --latents 96 --k 6 --batch 1024 "
    "--lr 2e-3 --eval-tokens 2048 --threads 1 --quiet --log-every 10";

}  // namespace

TEST(SourceParts, FilePartsAreDisjointAndCoverEveryRow) {
    const std::string p = rows_npy(1001);
    std::set<int64_t> all;
    int64_t total = 0;
    for (int part = 0; part < 3; part++) {
        const int64_t lo = 1001 * part / 3, hi = 1001 * (part + 1) / 3;
        std::vector<int64_t> ids = ids_of_part(p, part, 3, hi - lo);
        for (int64_t i = 0; i < hi - lo; i++) EXPECT_EQ(ids[(size_t)i], lo + i);  // a contiguous row range
        all.insert(ids.begin(), ids.end());
        total += (int64_t)ids.size();
    }
    EXPECT_EQ(total, 1001);
    EXPECT_EQ((int64_t)all.size(), 1001);
    // shuffled: a part's epoch is a permutation of its own rows
    SourceOptions o;
    o.part = 1;
    o.parts = 2;
    o.seed = 9;
    auto s = open_source(p, o);
    EXPECT_EQ(s->num_rows(), 1001 - 500);
    std::vector<float> x((size_t)(2 * 501));
    s->next_batch(x.data(), 501);
    std::set<int64_t> seen;
    for (int64_t i = 0; i < 501; i++) seen.insert((int64_t)x[2 * i]);
    EXPECT_EQ(seen.size(), 501u);
    EXPECT_EQ(*seen.begin(), 500);
    EXPECT_EQ(*seen.rbegin(), 1000);
}

TEST(SourceParts, ShardFoldersAreDealtByShard) {
    const std::string dir = tmp("shards");
    ASSERT_EQ(std::system((kBin + " data synth --d 4 --true-features 8 --tokens 5000 --rows-per-shard 1000 --quiet "
                                  "--out " + dir + " > /dev/null").c_str()), 0);
    SourceOptions o;
    o.sequential = true;
    int64_t rows = 0;
    for (int part = 0; part < 2; part++) {
        o.part = part;
        o.parts = 2;
        rows += open_source(dir, o)->num_rows();
    }
    EXPECT_EQ(rows, 5000);
    o.part = 0;
    EXPECT_EQ(open_source(dir, o)->num_rows(), 3000);  // shards 0, 2, 4
}

TEST(SourceParts, GeneratedPartsSideBySideAreTheOneProcessBatches) {
    SourceOptions one;
    auto s = open_source("planted:d=8,features=16,p=0.2,seed=3", one);
    std::vector<float> want(2 * 3 * 12 * 8), got(want.size());
    s->next_batch(want.data(), 2 * 3 * 12);  // two batches of 36 rows
    for (int part = 0; part < 3; part++) {
        SourceOptions o;
        o.part = part;
        o.parts = 3;
        auto p = open_source("planted:d=8,features=16,p=0.2,seed=3", o);
        for (int b = 0; b < 2; b++) p->next_batch(got.data() + ((b * 3 + part) * 12) * 8, 12);
        EXPECT_EQ(p->state().get_int("position", -1), 72);
    }
    EXPECT_EQ(got, want);
}

TEST(SourceParts, TooFewRowsForTheRanksIsAnError) {
    SourceOptions o;
    o.part = 0;  // 2 rows in 3 parts: part 0 would get none
    o.parts = 3;
    EXPECT_THROW(open_source(rows_npy(2), o), Error);
    o.part = 3;
    EXPECT_THROW(open_source(rows_npy(10), o), Error);
}

TEST(Comm, LocalGroupOfOne) {
    const Comm& c = local_comm();
    EXPECT_EQ(c.size(), 1);
    EXPECT_EQ(c.rank(), 0);
    float v[2] = {1.5f, 2.5f};
    c.allreduce_sum(v, 2);
    EXPECT_EQ(v[0], 1.5f);
    EXPECT_EQ(c.allgather_strings("abc"), std::vector<std::string>{"abc"});
    EXPECT_EQ(c.broadcast_string("xyz", 0), "xyz");
    EXPECT_EQ(&world_comm(), &local_comm());  // no MPI in a test process
}

TEST(Mpi, TwoRanksTrainTheOneProcessSae) {
    if (!have_mpi()) GTEST_SKIP() << "unfold was built without MPI (Debian: libopenmpi-dev openmpi-bin)";
    const std::string a = tmp("mpi2"), b = tmp("one");
    Proc r = sh(mpirun(2) + kBin + kTrain + " --steps 60 --out " + a);
    ASSERT_EQ(r.code, 0) << r.out;
    Proc s = sh(kBin + kTrain + " --steps 60 --out " + b);
    ASSERT_EQ(s.code, 0) << s.out;
    const Sae x = sae_load(a), y = sae_load(b);
    ASSERT_EQ(x.params.data.size(), y.params.data.size());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < x.params.data.size(); i++) {
        worst = std::max(worst, (double)std::fabs(x.params.data[i] - y.params.data[i]));
        scale = std::max(scale, (double)std::fabs(y.params.data[i]));
    }
    // the same rows in the same order; the gradient is summed over two halves instead of one batch (float
    // rounding), and TopK picks the same latents unless two pre-activations nearly tie
    std::printf("[ info ] 2 ranks vs 1 process after 60 steps: max |weight diff| %.3g (largest weight %.3g)\n", worst,
                scale);
    EXPECT_LT(worst, 2e-3 * scale) << "max |diff| " << worst;
    const Json ma = json_load(a + "/metrics.json"), mb = json_load(b + "/metrics.json");
    EXPECT_EQ(ma.at("train", "").get_int("ranks", 0), 2);
    const auto& la = ma.at("log", "").arr;
    const auto& lb = mb.at("log", "").arr;
    ASSERT_EQ(la.size(), lb.size());
    for (size_t i = 0; i < la.size(); i++) {
        const double ua = la[i].get_num("mse", -1), ub = lb[i].get_num("mse", -2);
        EXPECT_NEAR(ua, ub, 1e-3 * std::fabs(ub) + 1e-6) << "step " << la[i].get_int("step", 0);
    }
}

TEST(Mpi, ResumeUnderMpiAndRefuseAnotherRankCount) {
    if (!have_mpi()) GTEST_SKIP() << "unfold was built without MPI (Debian: libopenmpi-dev openmpi-bin)";
    const std::string full = tmp("mpi_full"), part = tmp("mpi_part");
    ASSERT_EQ(sh(mpirun(2) + kBin + kTrain + " --steps 40 --checkpoint-every 10 --out " + full).code, 0);
    ASSERT_EQ(sh(mpirun(2) + kBin + kTrain + " --steps 20 --checkpoint-every 10 --out " + part).code, 0);
    Proc one = sh(kBin + kTrain + " --steps 40 --checkpoint-every 10 --resume --out " + part);
    EXPECT_NE(one.code, 0);
    EXPECT_NE(one.out.find("mpirun -np 2"), std::string::npos) << one.out;
    Proc r = sh(mpirun(2) + kBin + kTrain + " --steps 40 --checkpoint-every 10 --resume --out " + part);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(read_file(part + "/sae_weights.safetensors"), read_file(full + "/sae_weights.safetensors"));
}

TEST(Mpi, AFailingRankEndsTheJob) {
    if (!have_mpi()) GTEST_SKIP() << "unfold was built without MPI (Debian: libopenmpi-dev openmpi-bin)";
    // NaN in the second half of the rows: only rank 1 reads it
    const std::string p = tmp("nan.npy");
    std::vector<float> x(4000 * 4, 0.5f);
    npy_save(p, {4000, 4}, x.data());
    std::string bytes = read_file(p);  // the writer refuses NaN: patch one value of the file
    const size_t data = 10 + (size_t)(unsigned char)bytes[8] + 256 * (size_t)(unsigned char)bytes[9];
    const float nan = NAN;
    std::memcpy(&bytes[data + (3500 * 4 + 2) * 4], &nan, 4);
    write_file_atomic(p, bytes);
    Proc r = sh(mpirun(2) + kBin + " sae train --input " + p + " --latents 8 --k 2 --batch 512 --steps 50 "
               "--threads 1 --quiet --out " + tmp("nan_run"));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.code, 124) << "the job hung";
    EXPECT_NE(r.out.find("rank 1: error"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("NaN"), std::string::npos) << r.out;
}

TEST(Mpi, OtherCommandsAndUnevenBatchesAreRefused) {
    if (!have_mpi()) GTEST_SKIP() << "unfold was built without MPI (Debian: libopenmpi-dev openmpi-bin)";
    Proc r = sh(mpirun(2) + kBin + " toy train --steps 10 --quiet --out " + tmp("toy_mpi"));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("does not run under mpirun"), std::string::npos) << r.out;
    Proc u = sh(mpirun(2) + kBin + kTrain + " --steps 5 --batch 1023 --out " + tmp("uneven"));
    EXPECT_NE(u.code, 0);
    EXPECT_NE(u.out.find("split evenly over 2 ranks"), std::string::npos) << u.out;
}
