// test_args.cpp: the command line of `unfold`: flags, defaults, one-line errors, help and group dispatch;
// and the number/list parsing of core/strings.h it uses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_util.h"
#include "args.h"
#include "unfold/core/strings.h"

using namespace unfold;
using unfold_test::error_of;

// ------------------------------------------------------------------------------------------- args

namespace {

const CommandSpec kSpec = {"unfold test run", "A test command.", "unfold test run --n 5 IN",
                           {{"n", "5", "a count"},
                            {"lr", "0.01", "a rate"},
                            {"out", "", "output folder (required)"},
                            {"verbose", "", "more output", true}},
                           0, 1};

Args parse(std::vector<std::string> words) {
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    return parse_args(kSpec, (int)argv.size(), argv.data());
}

}  // namespace

TEST(Args, ParsesValuesFlagsAndDefaults) {
    Args a = parse({"--n", "12", "--lr=0.5", "--verbose", "input.npy", "--out", "runs/x", "--threads", "1"});
    EXPECT_EQ(a.i64("n"), 12);
    EXPECT_DOUBLE_EQ(a.f64("lr"), 0.5);
    EXPECT_TRUE(a.flag("verbose"));
    EXPECT_EQ(a.str("out"), "runs/x");
    EXPECT_EQ(a.positional, std::vector<std::string>{"input.npy"});
    EXPECT_TRUE(a.given("n"));
    EXPECT_FALSE(a.given("seed"));
    EXPECT_EQ(a.seed(), 0u);
    EXPECT_FALSE(a.quiet());
    Args d = parse({"--threads", "1"});
    EXPECT_EQ(d.i64("n"), 5);  // default
    EXPECT_DOUBLE_EQ(d.f64("lr"), 0.01);
    EXPECT_FALSE(d.flag("verbose"));
    EXPECT_EQ(parse({"--verbose=false", "--threads", "1"}).flag("verbose"), false);
    EXPECT_EQ(parse({"--seed", "-3", "--threads", "1"}).i64("seed"), -3);
    // seeds take the whole 64-bit range, and nothing else
    EXPECT_EQ(parse({"--seed", "18446744073709551557", "--threads", "1"}).seed(), 18446744073709551557ull);
    EXPECT_EQ(parse({"--seed", "9007199254740993", "--threads", "1"}).seed(), 9007199254740993ull);
    EXPECT_NE(unfold_test::error_of([&] {
                  parse({"--seed", "-3", "--threads", "1"}).seed();
              }).find("--seed"),
              std::string::npos);
    EXPECT_NE(unfold_test::error_of([&] {
                  parse({"--seed", "18446744073709551616", "--threads", "1"}).seed();
              }).find("out of range"),
              std::string::npos);
    // the context the commands hand to the library
    Args c = parse({"--threads", "3", "--quiet"});
    EXPECT_EQ(c.ctx.threads, 3);
    EXPECT_TRUE(c.ctx.quiet);
    EXPECT_GE(parse({}).ctx.threads, 1);  // 0 = all cores
}

TEST(Args, ErrorsAreOneLine) {
    struct Case {
        std::vector<std::string> words;
        const char* key;  // only for values read after parsing
        std::string expect;
    };
    std::vector<Case> cases = {
        {{"--nope", "1"}, nullptr, "unfold test run: unknown flag --nope (see --help)"},
        {{"--n"}, nullptr, "unfold test run: --n needs a value"},
        {{"--verbose=maybe"}, nullptr, "unfold test run: --verbose takes no value"},
        {{"a", "b"}, nullptr, "unfold test run: expected 0 to 1 positional arguments, got 2 (see --help)"},
        {{"--threads", "-2"}, nullptr, "unfold test run: --threads must be >= 0"},
        {{"--threads", "two"}, nullptr, "unfold test run: --threads: 'two' is not an integer"},
        {{"--n", "5x", "--threads", "1"}, "n", "unfold test run: --n: '5x' is not an integer"},
        {{"--n", "", "--threads", "1"}, "n", "unfold test run: --n is required"},
        {{"--n", "99999999999999999999", "--threads", "1"}, "n", "unfold test run: --n: '99999999999999999999' is out of range (64-bit integers)"},
        {{"--lr", "abc", "--threads", "1"}, "lr", "unfold test run: --lr: 'abc' is not a finite number"},
        {{"--lr", "nan", "--threads", "1"}, "lr", "is not a finite number"},
        {{"--lr", "1e999", "--threads", "1"}, "lr", "is not a finite number"},
        {{"--threads", "1"}, "out", "unfold test run: --out is required"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.words[0]);
        std::string m = error_of([&] {
            Args a = parse(c.words);
            if (c.key && std::string(c.key) == "lr") a.f64(c.key);
            else if (c.key && std::string(c.key) == "out") a.i64("out");
            else if (c.key) a.i64(c.key);
        });
        EXPECT_NE(m.find(c.expect), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos);
    }
    EXPECT_EQ(split_list("0.5,0.25,1"), (std::vector<std::string>{"0.5", "0.25", "1"}));
    EXPECT_EQ(split_list("a"), (std::vector<std::string>{"a"}));
    EXPECT_EQ(split_list("1:2", ':'), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(parse_int("-42", "x"), -42);
    EXPECT_DOUBLE_EQ(parse_double("2.5e-3", "x"), 2.5e-3);
}

TEST(Args, HelpAndDispatch) {
    testing::internal::CaptureStdout();
    Args h = parse({"--help"});
    std::string out = testing::internal::GetCapturedStdout();
    EXPECT_TRUE(h.help);
    EXPECT_NE(out.find("--lr X"), std::string::npos);
    EXPECT_NE(out.find("(default 0.01)"), std::string::npos);
    EXPECT_NE(out.find("--threads"), std::string::npos);

    static int called = 0;
    static int seen_argc = -1;
    std::vector<CommandEntry> cmds = {{"train", "train it", [](int argc, char**) { called = 1; seen_argc = argc; return 0; }},
                                      {"eval", "eval it", [](int, char**) { called = 2; return 3; }}};
    std::vector<std::string> w = {"eval", "--x"};
    std::vector<char*> argv;
    for (auto& s : w) argv.push_back(s.data());
    EXPECT_EQ(dispatch("unfold grp", "a group", cmds, 2, argv.data()), 3);
    EXPECT_EQ(called, 2);
    w = {"train", "--a", "1"};
    argv.clear();
    for (auto& s : w) argv.push_back(s.data());
    EXPECT_EQ(dispatch("unfold grp", "a group", cmds, 3, argv.data()), 0);
    EXPECT_EQ(called, 1);
    EXPECT_EQ(seen_argc, 2);
    w = {"fly"};
    argv = {w[0].data()};
    EXPECT_EQ(error_of([&] { dispatch("unfold grp", "a group", cmds, 1, argv.data()); }),
              "unfold grp: unknown command 'fly' (see 'unfold grp --help')");
}


TEST(Strings, ValidUtf8) {
    EXPECT_TRUE(unfold::valid_utf8(""));
    EXPECT_TRUE(unfold::valid_utf8("plain ascii"));
    EXPECT_TRUE(unfold::valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x99\x82"));  // é € 🙂
    EXPECT_FALSE(unfold::valid_utf8("\xff"));
    EXPECT_FALSE(unfold::valid_utf8("\xe2\x82"));         // truncated
    EXPECT_FALSE(unfold::valid_utf8("\xc3\x28"));         // bad continuation
    EXPECT_FALSE(unfold::valid_utf8(std::string("\x80")));  // lone continuation byte
}

// int flags: a value that does not fit is refused naming the flag and the range, never narrowed
TEST(Args, IntFlagsRefuseValuesOutsideTheirRange) {
    EXPECT_EQ(parse({"--n", "2147483647", "--threads", "1"}).i32("n"), 2147483647);
    EXPECT_EQ(parse({"--n", "-7", "--threads", "1"}).i32("n"), -7);
    EXPECT_EQ(error_of([&] { parse({"--n", "4294967312", "--threads", "1"}).i32("n"); }),
              "unfold test run: --n: 4294967312 is out of range [-2147483648, 2147483647]");
    EXPECT_EQ(error_of([&] { parse({"--n", "0", "--threads", "1"}).i32("n", 1, 100); }),
              "unfold test run: --n: 0 is out of range [1, 100]");
    EXPECT_EQ(error_of([&] { parse({"--n", "99999999999999999999", "--threads", "1"}).i32("n"); }),
              "unfold test run: --n: '99999999999999999999' is out of range (64-bit integers)");
    EXPECT_EQ(error_of([&] { parse({"--threads", "4294967297"}); }),
              "unfold test run: --threads: 4294967297 is out of range [0, 65536]");
}
