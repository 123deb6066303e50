// cli_demo.cpp: `unfold demo`, the project's showcase: trains small toy models and writes one HTML report.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "unfold/report/demo.h"

namespace unfold {

static const CommandSpec kDemoSpec = {
    "unfold demo",
    "Reproduce the headline figures of Toy Models of Superposition in one self-contained HTML report.",
    "unfold demo                       # writes runs/demo/report.html (under a minute on 2 idle cores)\n"
    "unfold demo --steps-scale 3       # longer training, cleaner pictures\n"
    "Prints the report's path as the last line of stdout.",
    {
        {"out", "runs/demo", "output folder"},
        {"steps-scale", "1", "multiply every training length by this factor"},
        {"no-runs", "", "do not save the trained models as run folders", true},
    },
};

int cmd_demo(int argc, char** argv) {
    Args a = parse_args(kDemoSpec, argc, argv);
    if (a.help) return 0;
    DemoOptions o;
    o.out = a.str("out");
    o.steps_scale = a.f64("steps-scale");
    o.seed = a.seed();
    o.ctx = a.ctx;
    o.save_runs = !a.flag("no-runs");
    std::string path = run_demo(o);
    printf("%s\n", path.c_str());
    return 0;
}

}  // namespace unfold
