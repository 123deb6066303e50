// args.h: command-line parsing for `unfold <group> <command> [flags]`.
//
// Each command declares its flags in a CommandSpec (name, default, help). Flags are `--name value`,
// `--name=value`, or bare `--name` for booleans (declared with is_flag). Every command gets --help,
// --threads, --seed and --quiet for free. Unknown flags and malformed numbers are one-line errors.
//
//   static const CommandSpec spec = {"unfold toy train", "Train toy models of superposition.",
//       "unfold toy train --features 5 --hidden 2 --out runs/t1",
//       {{"features", "5", "number of input features n"}, {"out", "", "output folder (required)"}}};
//   Args a = parse_args(spec, argc, argv);   // argv[0] is the first word after the command name
//   if (a.help) return 0;                    // help was printed
//   int n = a.i64("features");
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/strings.h"  // split_list, parse_double, parse_int

namespace unfold {

struct OptSpec {
    std::string name;   // without the leading "--"
    std::string def;    // default value as text; "" = no default (i64/f64/str on it throw "required")
    std::string help;
    bool is_flag = false;  // boolean switch, no value
};

struct CommandSpec {
    std::string name;     // "unfold toy train"
    std::string summary;  // one line
    std::string usage;    // example invocation(s), may span lines; positional args described here
    std::vector<OptSpec> opts;
    int min_positional = 0;
    int max_positional = 0;
};

struct Args {
    bool help = false;
    std::vector<std::string> positional;
    std::map<std::string, std::string> values;  // explicit values given on the command line
    const CommandSpec* spec = nullptr;

    bool given(const std::string& name) const { return values.count(name) > 0; }
    bool flag(const std::string& name) const;
    std::string str(const std::string& name) const;  // value or default; throws if required and missing
    int64_t i64(const std::string& name) const;
    // An int flag: a value outside [lo, hi] (by default int's range) is refused, naming the flag and the range,
    // instead of being narrowed to another number ("--k 4294967312" is not 16).
    int i32(const std::string& name, int64_t lo = INT32_MIN, int64_t hi = INT32_MAX) const;
    double f64(const std::string& name) const;
    uint64_t seed() const;  // 0 .. 2^64-1
    int threads() const { return (int)i64("threads"); }
    bool quiet() const { return flag("quiet"); }
    Context ctx;  // from --threads (0 = all cores) and --quiet; messages and progress on stderr
};

// Parses argv[0..argc) (the words after the command). Prints help to stdout and sets .help on --help/-h.
// Fills .ctx from --threads and --quiet and makes --threads the process default. Throws unfold::Error on bad input.
Args parse_args(const CommandSpec& spec, int argc, char** argv);

void print_help(const CommandSpec& spec);

// Ctrl-C (SIGINT) / SIGTERM: the first sets a flag that every Args::ctx polls (should_stop), so a long run
// stops at its next step and saves what it can (e.g. `features build` writes its .partial); a second
// signal ends the process at once. main() installs it.
void install_interrupt_handler();
bool interrupted();

// Groups: `unfold toy <command>`: prints the list of commands of a group.
struct CommandEntry {
    std::string name;
    std::string summary;
    int (*run)(int argc, char** argv);  // argv[0] = first word after the command name
};
int dispatch(const std::string& group_name, const std::string& group_summary, const std::vector<CommandEntry>& cmds,
             int argc, char** argv);

}  // namespace unfold
