// fuzz_json.cpp: the JSON parser (io/json.h), which reads every config, index and tokenizer file. Whatever it
// accepts must print (dump) and parse back to the same printed text, and the typed accessors must refuse
// rather than misbehave.
#include <string>

#include "fuzz_util.h"
#include "unfold/io/json.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text((const char*)data, size);
    Json j;
    if (!unfold_fuzz::accepts([&] { j = json_parse(text, "fuzz.json"); })) return 0;
    const std::string once = j.dump(-1);
    Json back = json_parse(once, "fuzz.json (printed)");  // what we print, we read: an Error here is a finding
    if (back.dump(-1) != once) __builtin_trap();
    (void)j.dump(2);
    // the accessors every reader uses on untrusted values
    auto poke = [](const Json& v) {
        unfold_fuzz::accepts([&] { v.as_int("x"); });
        unfold_fuzz::accepts([&] { v.as_u64("x"); });
        unfold_fuzz::accepts([&] { v.as_num("x"); });
        unfold_fuzz::accepts([&] { v.as_bool("x"); });
        unfold_fuzz::accepts([&] { v.as_str("x"); });
        (void)v.get_int("k", 0);
        (void)v.get_u64("k", 0);
        (void)v.get_num("k", 0);
        (void)v.get_str("k", "");
        (void)v.get_bool("k", false);
    };
    poke(j);
    for (const auto& e : j.arr) poke(e);
    for (const auto& kv : j.obj) poke(kv.second);
    return 0;
}
