// PLACEHOLDER (to be replaced by the module's real command group).
#include "cli/commands.h"
#include "core/error.h"
namespace unfold {
int cmd_sae(int, char**) { fail("not built yet"); }
}  // namespace unfold
