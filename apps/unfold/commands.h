// commands.h: the command groups of the `unfold` binary. Each group lives with its library
// (src/<module>/cli_*.cpp) and gets argv starting at the word after the group name.
#pragma once

namespace unfold {

int cmd_toy(int argc, char** argv);   // src/toy/cli_toy.cpp   : train, report, phase, ...
int cmd_demo(int argc, char** argv);  // src/toy/cli_demo.cpp  : the main job, one HTML report
int cmd_data(int argc, char** argv);  // src/sae/cli_data.cpp  : synthetic activation sets
int cmd_sae(int argc, char** argv);   // src/sae/cli_sae.cpp   : train, eval, encode, decode, report
int cmd_dict(int argc, char** argv);  // src/sae/cli_dict.cpp  : classical sparse coding
int cmd_lm(int argc, char** argv);    // src/lm/cli_lm.cpp     : generate, train, cache, ...
int cmd_serve(int argc, char** argv);          // cli_serve.cpp: the feature browser on a local port
int cmd_features_html(int argc, char** argv);  // cli_serve.cpp: `features html`, the browser as static files

}  // namespace unfold
