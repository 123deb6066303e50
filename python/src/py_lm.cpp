// py_lm.cpp: unfold.lm (to be filled).
#include "py_common.h"

namespace unfold::py {

void bind_lm(pb::module_& m) {}

}  // namespace unfold::py
