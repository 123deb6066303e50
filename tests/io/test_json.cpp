// test_json.cpp: the JSON parser (strict RFC 8259, positioned errors) and writer (round trips,
// shortest numbers, NaN -> null), typed accessors for untrusted input, and atomic json_save.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_util.h"
#include "unfold/core/rng.h"
#include "unfold/io/json.h"

using namespace unfold;
using unfold_test::error_of;
using unfold_test::TempDir;
using unfold_test::write_raw;

TEST(Json, ParsesAllValueKinds) {
    Json j = json_parse(R"( {"a": 1, "b": [true, false, null, -2.5e3, "x"], "c": {"d": "\u00e9\n"}, "e": []} )", "t");
    ASSERT_TRUE(j.is_obj());
    EXPECT_EQ(j.size(), 4u);
    EXPECT_EQ(j.obj[0].first, "a");  // insertion order kept
    EXPECT_EQ(j.at("a", "t").as_int("a"), 1);
    const Json& b = j.at("b", "t");
    ASSERT_EQ(b.size(), 5u);
    EXPECT_TRUE(b.arr[0].as_bool("b0"));
    EXPECT_FALSE(b.arr[1].as_bool("b1"));
    EXPECT_TRUE(b.arr[2].is_null());
    EXPECT_EQ(b.arr[3].as_num("b3"), -2500.0);
    EXPECT_EQ(b.arr[4].as_str("b4"), "x");
    EXPECT_EQ(j.at("c", "t").at("d", "c").str, "\xc3\xa9\n");
    EXPECT_TRUE(j.at("e", "t").is_arr());
    EXPECT_EQ(j.get_int("a", 7), 1);
    EXPECT_EQ(j.get_int("zz", 7), 7);
    EXPECT_EQ(j.get_str("zz", "def"), "def");
    EXPECT_EQ(j.get_bool("a", true), true);  // wrong type -> default
}

TEST(Json, SurrogatePairsAndEscapes) {
    Json j = json_parse(R"("\ud83d\ude00 \"q\" \\ \/ \t")", "t");
    EXPECT_EQ(j.str, "\xf0\x9f\x98\x80 \"q\" \\ / \t");
    EXPECT_NE(error_of([] { json_parse(R"("\ud83d x")", "t"); }).find("unpaired surrogate"), std::string::npos);
    EXPECT_NE(error_of([] { json_parse(R"("\ude00")", "t"); }).find("unpaired surrogate"), std::string::npos);
    EXPECT_NE(error_of([] { json_parse(R"("\u12G4")", "t"); }).find("hex"), std::string::npos);
}

TEST(Json, ErrorsNameSourceLineAndColumn) {
    EXPECT_EQ(error_of([] { json_parse("{\n  \"a\" 1\n}", "cfg.json"); }), "cfg.json: line 2 col 7: expected ':'");
    struct Case {
        const char* text;
        const char* what;
    };
    for (const Case& c : std::vector<Case>{{"", "unexpected end"},
                                           {"{\"a\":1,}", "expected '\"'"},
                                           {"[1,2", "expected ',' or ']'"},
                                           {"01", "unexpected text after"},
                                           {"1.", "expected digits after '.'"},
                                           {"1e", "expected exponent digits"},
                                           {"-", "expected a value"},
                                           {"+1", "expected a value"},
                                           {"'a'", "expected a value"},
                                           {"NaN", "expected a value"},
                                           {"tru", "expected a value"},
                                           {"\"a\tb\"", "control character"},
                                           {"\"abc", "unterminated string"},
                                           {"\"\\x\"", "bad escape"},
                                           {"{\"a\":1,\"a\":2}", "duplicate key 'a'"},
                                           {"1e999", "out of range"},
                                           {"[1] [2]", "unexpected text after"}}) {
        SCOPED_TRACE(c.text);
        std::string m = error_of([&] { json_parse(c.text, "src.json"); });
        EXPECT_EQ(m.rfind("src.json: line 1 col ", 0), 0u) << m;
        EXPECT_NE(m.find(c.what), std::string::npos) << m;
    }
    // depth limit: no stack overflow on deeply nested input
    std::string deep(100000, '[');
    EXPECT_NE(error_of([&] { json_parse(deep, "deep.json"); }).find("nesting too deep"), std::string::npos);
}

TEST(Json, TypedAccessorsRejectWrongTypes) {
    Json j = json_parse(R"({"n": 2.5, "s": "x", "i": 3})", "t");
    EXPECT_EQ(error_of([&] { j.at("n", "cfg.json").as_int("cfg.json: n"); }), "cfg.json: n: expected an integer, found 2.5");
    EXPECT_EQ(error_of([&] { j.at("s", "cfg").as_num("cfg: s"); }), "cfg: s: expected a number, found a string");
    EXPECT_EQ(error_of([&] { j.at("missing", "cfg.json"); }), "cfg.json: missing field 'missing'");
    EXPECT_EQ(error_of([&] { j.at("i", "c").as_str("c: i"); }), "c: i: expected a string, found a number");
    EXPECT_EQ(error_of([&] { j.at("i", "c").as_bool("c: i"); }), "c: i: expected true or false, found a number");
    Json big = json_parse("1e17", "t");
    EXPECT_NE(error_of([&] { big.as_int("t"); }).find("expected an integer"), std::string::npos);
}

TEST(Json, DumpRoundTripsAndShortestNumbers) {
    Json j = Json::object();
    j["name"] = "a \"b\"\n\x01";
    j["pi"] = 3.141592653589793;
    j["tenth"] = 0.1;
    j["f32"] = 0.1f;  // stored as the double nearest the float
    j["int"] = (int64_t)123456789012;
    j["neg"] = -0.5;
    j["nan"] = std::nan("");
    j["list"] = Json::array_of(std::vector<double>{1, 2.5, -3});
    j["nested"]["deep"] = true;
    std::string compact = j.dump(-1);
    EXPECT_NE(compact.find("\"tenth\":0.1,"), std::string::npos) << compact;
    EXPECT_NE(compact.find("\"int\":123456789012,"), std::string::npos);
    EXPECT_NE(compact.find("\"nan\":null"), std::string::npos);
    EXPECT_NE(compact.find("\\u0001"), std::string::npos);
    EXPECT_EQ(compact.find('\n'), std::string::npos);
    for (int indent : {-1, 0, 2, 4}) {
        Json r = json_parse(j.dump(indent), "rt");
        EXPECT_EQ(r.at("name", "").str, j["name"].str);
        EXPECT_EQ(r.at("pi", "").num, 3.141592653589793);
        EXPECT_EQ((float)r.at("f32", "").num, 0.1f);
        EXPECT_TRUE(r.at("nan", "").is_null());
        EXPECT_EQ(r.at("list", "").arr[1].num, 2.5);
        EXPECT_TRUE(r.at("nested", "").at("deep", "").b);
        EXPECT_EQ(r.dump(indent), json_parse(r.dump(indent), "rt2").dump(indent));
    }
    // random doubles survive a dump/parse round trip bit for bit
    Rng rng(11);
    for (int i = 0; i < 2000; i++) {
        double v = (rng.uniform_double() - 0.5) * std::pow(10.0, (double)rng.below(40) - 20.0);
        EXPECT_EQ(json_parse(Json(v).dump(), "n").num, v);
    }
}

TEST(Json, SaveIsAtomicAndLoadNamesPath) {
    TempDir dir;
    std::string p = dir.file("m.json");
    Json j = Json::object();
    j["loss"] = 0.25;
    json_save(p, j);
    EXPECT_EQ(json_load(p).at("loss", p).num, 0.25);
    EXPECT_EQ(dir.count(), 1u);
    write_raw(p, "{\"loss\": }");
    EXPECT_FILE_ERROR(json_load(p), p, "line 1 col 10: expected a value");
    EXPECT_FILE_ERROR(json_load(dir.file("none.json")), "none.json", "cannot open");
    EXPECT_THROW(json_save(dir.file("no/dir/x.json"), j), Error);
    EXPECT_EQ(dir.count(), 1u);
}

TEST(Json, SixtyFourBitIntegersAreExact) {
    const uint64_t big = 18446744073709551557ull;  // the largest 64-bit prime: no double holds it
    const uint64_t p53 = (1ull << 53) + 1;         // the first integer a double cannot hold
    Json j = Json::object();
    j["big"] = big;
    j["p53"] = p53;
    j["min"] = INT64_MIN;
    j["max"] = (int64_t)INT64_MAX;
    j["u63"] = (uint64_t)INT64_MAX + 1;
    for (int indent : {-1, 2}) {
        const std::string text = j.dump(indent);
        EXPECT_NE(text.find("18446744073709551557"), std::string::npos) << text;
        EXPECT_NE(text.find("9007199254740993"), std::string::npos) << text;
        EXPECT_NE(text.find("-9223372036854775808"), std::string::npos) << text;
        Json r = json_parse(text, "rt");
        EXPECT_EQ(r.at("big", "").as_u64("big"), big);
        EXPECT_EQ(r.at("p53", "").as_u64("p53"), p53);
        EXPECT_EQ(r.at("p53", "").as_int("p53"), (int64_t)p53);
        EXPECT_EQ(r.at("min", "").as_int("min"), INT64_MIN);
        EXPECT_EQ(r.at("max", "").as_int("max"), INT64_MAX);
        EXPECT_EQ(r.at("u63", "").as_u64("u63"), 9223372036854775808ull);
        EXPECT_EQ(r.get_u64("big", 0), big);
        EXPECT_EQ(r.get_int("p53", 0), (int64_t)p53);
        EXPECT_EQ(r.get_int("big", -7), -7);  // above INT64_MAX: not an int64
        EXPECT_EQ(r.dump(indent), text);      // parse/print is the identity on these
    }
    // parsing: integer literals that fit are integers; fractions, exponents and overflow are doubles
    EXPECT_EQ(json_parse("18446744073709551615", "t").as_u64("t"), UINT64_MAX);
    EXPECT_EQ(json_parse("-9223372036854775808", "t").as_int("t"), INT64_MIN);
    EXPECT_TRUE(json_parse("9007199254740993", "t").is_integer());
    EXPECT_FALSE(json_parse("9007199254740993.0", "t").is_integer());
    EXPECT_EQ(json_parse("9007199254740993.0", "t").num, 9007199254740992.0);  // rounded, as a double must
    Json over = json_parse("18446744073709551616", "t");                       // 2^64: a double
    EXPECT_FALSE(over.is_integer());
    EXPECT_EQ(over.num, 18446744073709551616.0);
    EXPECT_NE(error_of([&] { over.as_u64("t: seed"); }).find("t: seed: expected a non-negative integer"),
              std::string::npos);
    EXPECT_EQ(json_parse("-12", "t").as_int("t"), -12);
    EXPECT_TRUE(std::signbit(json_parse("-0", "t").num));  // "-0" keeps its sign (a double)
    EXPECT_EQ(json_parse("[1, 2.5, 3]", "t").dump(-1), "[1,2.5,3]");
    EXPECT_EQ(json_parse("-18446744073709551557", "t").num, -18446744073709551557.0);
    // the old string form of a seed still reads; anything else is rejected with the field named
    EXPECT_EQ(json_parse("\"18446744073709551557\"", "t").as_u64("t"), big);
    EXPECT_EQ(error_of([] { json_parse("\"12x\"", "t").as_u64("cfg.json: seed"); }),
              "cfg.json: seed: expected a non-negative integer, found the string \"12x\"");
    EXPECT_NE(error_of([] {
                  json_parse("\"18446744073709551616\"", "t").as_u64("cfg.json: seed");
              }).find("does not fit 64 bits"),
              std::string::npos);
    EXPECT_EQ(error_of([] { json_parse("-3", "t").as_u64("c: seed"); }),
              "c: seed: expected a non-negative integer, found -3");
    EXPECT_NE(error_of([] { json_parse("2.5", "t").as_u64("c: seed"); }).find("c: seed: expected a non-negative"),
              std::string::npos);
    EXPECT_EQ(json_parse("12.0", "t").as_u64("t"), 12u);  // integral doubles below 2^53 are fine
    EXPECT_NE(error_of([] { json_parse("18446744073709551557", "t").as_int("c: n"); }).find("int64 range"),
              std::string::npos);
}
