// test_context.cpp: the run context a host program hands to the library: messages go to its sink (quiet
// drops INFO, never WARN), progress reaches its sink with a last `finished` event, should_stop cancels, and
// ThreadScope sets and restores the calling thread's OpenMP thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <utility>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/progress.h"

using namespace unfold;

TEST(Context, MessagesGoToTheSinkAndQuietDropsInfoOnly) {
    std::vector<std::pair<LogLevel, std::string>> got;
    Context ctx;
    ctx.log = [&](LogLevel l, const std::string& m) { got.emplace_back(l, m); };
    ctx.info("step %d of %s", 3, "ten");
    ctx.warn("low %s", "memory");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].first, LogLevel::INFO);
    EXPECT_EQ(got[0].second, "step 3 of ten");
    EXPECT_EQ(got[1].first, LogLevel::WARN);
    EXPECT_EQ(got[1].second, "low memory");
    ctx.quiet = true;
    ctx.info("hidden");
    ctx.warn("shown");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].second, "shown");
    // long messages are not truncated
    std::string big(5000, 'x');
    ctx.warn("%s", big.c_str());
    EXPECT_EQ(got.back().second, big);
}

TEST(Context, ProgressReachesTheSinkWithAFinalEvent) {
    std::vector<ProgressEvent> ev;
    Context ctx;
    ctx.progress = [&](const ProgressEvent& e) { ev.push_back(e); };
    {
        Progress p(ctx, "work", 1000, "item");
        EXPECT_TRUE(p.active());
        for (int i = 1; i <= 1000; i++) p.update(i, "x");
        p.finish("done");
    }
    ASSERT_GE(ev.size(), 2u);
    EXPECT_LT(ev.size(), 100u);  // throttled: ~10 a second, and the first and last
    EXPECT_EQ(ev.back().label, "work");
    EXPECT_EQ(ev.back().unit, "item");
    EXPECT_EQ(ev.back().done, 1000);
    EXPECT_EQ(ev.back().total, 1000);
    EXPECT_TRUE(ev.back().finished);
    EXPECT_EQ(ev.back().extra, "done");
    for (size_t i = 0; i + 1 < ev.size(); i++) EXPECT_FALSE(ev[i].finished);
    ctx.quiet = true;
    ev.clear();
    Progress q(ctx, "quiet", 10);
    EXPECT_FALSE(q.active());
    q.update(10);
    q.finish();
    EXPECT_TRUE(ev.empty());
}

TEST(Context, ShouldStopCancelsAtTheNextUpdate) {
    int polls = 0;
    Context ctx;
    ctx.quiet = true;  // no output, but cancellation is still polled
    ctx.should_stop = [&] { return ++polls >= 3; };
    Progress p(ctx, "work", 10);
    p.update(1);
    p.update(2);
    EXPECT_THROW(p.update(3), Cancelled);
    EXPECT_EQ(polls, 3);
    Context never;
    EXPECT_NO_THROW(never.check_stop());
}

TEST(Context, ThreadScopeSetsAndRestores) {
    omp_set_num_threads(3);
    {
        Context ctx;
        ctx.threads = 1;
        ThreadScope s(ctx);
        EXPECT_EQ(omp_get_max_threads(), 1);
        int seen = 0;
#pragma omp parallel
        {
#pragma omp single
            seen = omp_get_num_threads();
        }
        EXPECT_EQ(seen, 1);
    }
    EXPECT_EQ(omp_get_max_threads(), 3);
    int outside = 0;
#pragma omp parallel
    {
#pragma omp single
        outside = omp_get_num_threads();
    }
    EXPECT_EQ(outside, 3);  // OpenMP is really on in this test, so the 1 above means something
    {
        ThreadScope keep(0);  // 0: leave the setting alone
        EXPECT_EQ(omp_get_max_threads(), 3);
    }
    EXPECT_GE(hardware_threads(), 1);
    set_num_threads(2);
    EXPECT_EQ(get_num_threads(), 2);
}
