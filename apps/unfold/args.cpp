// args.cpp: flag parsing, help text and group dispatch.
#include "args.h"

#include <csignal>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "unfold/core/context.h"
#include "unfold/core/error.h"

namespace unfold {

static const std::vector<OptSpec>& common_opts() {
    static const std::vector<OptSpec> c = {
        {"threads", "0", "worker threads (0 = all cores)", false},
        {"seed", "0", "random seed (same seed, same result)", false},
        {"quiet", "", "no progress bar or informational output", true},
        {"help", "", "show this help", true},
    };
    return c;
}

static const OptSpec* find_opt(const CommandSpec& spec, const std::string& name) {
    for (const auto& o : spec.opts)
        if (o.name == name) return &o;
    for (const auto& o : common_opts())
        if (o.name == name) return &o;
    return nullptr;
}

void print_help(const CommandSpec& spec) {
    std::printf("%s: %s\n\nusage:\n", spec.name.c_str(), spec.summary.c_str());
    // indent each usage line
    size_t pos = 0;
    std::string u = spec.usage;
    while (pos <= u.size()) {
        size_t nl = u.find('\n', pos);
        if (nl == std::string::npos) nl = u.size();
        std::printf("  %s\n", u.substr(pos, nl - pos).c_str());
        pos = nl + 1;
    }
    std::printf("\nflags:\n");
    auto row = [](const OptSpec& o) {
        std::string left = "--" + o.name + (o.is_flag ? "" : " X");
        std::string right = o.help;
        if (!o.is_flag && !o.def.empty()) right += " (default " + o.def + ")";
        std::printf("  %-26s %s\n", left.c_str(), right.c_str());
    };
    for (const auto& o : spec.opts) row(o);
    for (const auto& o : common_opts()) row(o);
}

Args parse_args(const CommandSpec& spec, int argc, char** argv) {
    Args a;
    a.spec = &spec;
    for (int i = 0; i < argc; i++) {
        std::string w = argv[i];
        if (w == "-h" || w == "--help") {
            a.help = true;
            continue;
        }
        if (w.size() > 2 && w[0] == '-' && w[1] == '-') {
            std::string name = w.substr(2), value;
            bool has_eq = false;
            size_t eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_eq = true;
            }
            const OptSpec* o = find_opt(spec, name);
            if (!o) fail("%s: unknown flag --%s (see --help)", spec.name.c_str(), name.c_str());
            if (o->is_flag) {
                if (has_eq && value != "1" && value != "true" && value != "0" && value != "false")
                    fail("%s: --%s takes no value", spec.name.c_str(), name.c_str());
                a.values[name] = has_eq ? value : "1";
            } else {
                if (!has_eq) {
                    if (i + 1 >= argc) fail("%s: --%s needs a value", spec.name.c_str(), name.c_str());
                    value = argv[++i];
                }
                a.values[name] = value;
            }
        } else {
            a.positional.push_back(w);
        }
    }
    if (a.help) {
        print_help(spec);
        return a;
    }
    if ((int)a.positional.size() < spec.min_positional || (int)a.positional.size() > spec.max_positional)
        fail("%s: expected %d to %d positional arguments, got %d (see --help)", spec.name.c_str(), spec.min_positional,
             spec.max_positional, (int)a.positional.size());
    const int64_t t64 = a.i64("threads");
    if (t64 < 0) fail("%s: --threads must be >= 0", spec.name.c_str());
    const int t = a.i32("threads", 0, 1 << 16);
    // The program is the host: its threads are the process default, and every library call gets the context.
    a.ctx.threads = t > 0 ? t : hardware_threads();
    a.ctx.quiet = a.flag("quiet");
    a.ctx.should_stop = interrupted;
    set_num_threads(a.ctx.threads);
    return a;
}

bool Args::flag(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return false;
    return it->second == "1" || it->second == "true";
}

std::string Args::str(const std::string& name) const {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    const OptSpec* o = spec ? find_opt(*spec, name) : nullptr;
    UNFOLD_ASSERT(o != nullptr);
    return o->def;
}

int64_t Args::i64(const std::string& name) const {
    std::string v = str(name);
    if (v.empty()) fail("%s: --%s is required", spec->name.c_str(), name.c_str());
    return parse_int(v, spec->name + ": --" + name);
}

int Args::i32(const std::string& name, int64_t lo, int64_t hi) const {
    UNFOLD_ASSERT(lo <= hi && lo >= INT32_MIN && hi <= INT32_MAX);
    const int64_t v = i64(name);
    if (v < lo || v > hi)
        fail("%s: --%s: %lld is out of range [%lld, %lld]", spec->name.c_str(), name.c_str(), (long long)v,
             (long long)lo, (long long)hi);
    return (int)v;
}

uint64_t Args::seed() const {
    std::string v = str("seed");
    if (v.empty()) fail("%s: --seed is required", spec->name.c_str());
    return parse_u64(v, spec->name + ": --seed");
}

double Args::f64(const std::string& name) const {
    std::string v = str(name);
    if (v.empty()) fail("%s: --%s is required", spec->name.c_str(), name.c_str());
    return parse_double(v, spec->name + ": --" + name);
}

int dispatch(const std::string& group_name, const std::string& group_summary, const std::vector<CommandEntry>& cmds,
             int argc, char** argv) {
    auto usage = [&]() {
        std::printf("%s: %s\n\ncommands:\n", group_name.c_str(), group_summary.c_str());
        for (const auto& c : cmds) std::printf("  %-12s %s\n", c.name.c_str(), c.summary.c_str());
        std::printf("\nRun '%s <command> --help' for a command's flags.\n", group_name.c_str());
    };
    if (argc < 1 || std::strcmp(argv[0], "--help") == 0 || std::strcmp(argv[0], "-h") == 0 ||
        std::strcmp(argv[0], "help") == 0) {
        usage();
        return argc < 1 ? 2 : 0;
    }
    for (const auto& c : cmds)
        if (c.name == argv[0]) return c.run(argc - 1, argv + 1);
    fail("%s: unknown command '%s' (see '%s --help')", group_name.c_str(), argv[0], group_name.c_str());
}

static volatile std::sig_atomic_t g_interrupted = 0;

static void on_interrupt(int sig) {
    if (g_interrupted) {  // the second one: stop now
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    g_interrupted = 1;
}

void install_interrupt_handler() {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
}

bool interrupted() { return g_interrupted != 0; }

}  // namespace unfold
