// py_features.cpp: unfold.features (to be filled).
#include "py_common.h"

namespace unfold::py {

void bind_features(pb::module_& m) {}

}  // namespace unfold::py
