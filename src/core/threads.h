// threads.h: one place that sets the thread count for OpenMP loops and OpenBLAS.
#pragma once

namespace unfold {

// n <= 0: use the hardware concurrency. Applies to OpenMP and OpenBLAS.
void set_num_threads(int n);
int get_num_threads();

}  // namespace unfold
