// PLACEHOLDER (to be replaced by the real command).
#include "toy/toy_cli.h"
#include "core/error.h"
namespace unfold {
int toy_cmd_phase(int, char**) { fail("not built yet"); }
}  // namespace unfold
