// fuzz_feature_db.cpp: the features database reader (features/feature_db.h) on raw file bytes: whatever SQLite
// makes of a damaged or foreign file, the reader must refuse it with one line or read it safely.
#include "feature_db_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("fuzz.db", data, size);
    unfold_fuzz::accepts([&] { unfold_fuzz::read_feature_db(path); });
    return 0;
}
