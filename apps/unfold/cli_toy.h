// toy_cli.h: the `unfold toy ...` commands implemented outside cli_toy.cpp (which holds the group
// dispatcher and `train`). argv starts at the first word after the command name.
#pragma once

namespace unfold {

int toy_cmd_report(int argc, char** argv);  // cli_report.cpp: unfold toy report RUN_DIR
int toy_cmd_phase(int argc, char** argv);   // cli_phase.cpp:  unfold toy phase ...

}  // namespace unfold
