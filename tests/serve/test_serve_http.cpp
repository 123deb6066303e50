// test_serve_http.cpp: the browser on a loopback port (cpp-httplib), spoken to with raw sockets: it listens on
// 127.0.0.1 only by default, answers 500 requests from 8 concurrent clients exactly as handle() does, refuses
// traversal, malformed and oversized requests with 4xx, sends its security headers, and stops cleanly (stop(),
// should_stop, and `unfold serve` on SIGINT).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "serve_testing.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/http.h"

using namespace unfold;
using namespace unfold::serve_testing;

namespace {

constexpr int64_t kN = 120;

struct Running {
    TmpDir tmp;
    std::unique_ptr<FeatureBrowser> b;
    std::unique_ptr<HttpServer> s;
    std::thread t;
    explicit Running(ServeOptions o = {}) {
        write_planted_db(tmp.file("p.db"), kN);
        b = std::make_unique<FeatureBrowser>(tmp.file("p.db"));
        o.port = 0;
        o.ctx = Context::silent();
        s = std::make_unique<HttpServer>(*b, o);
        t = std::thread([this] { s->run(); });
    }
    ~Running() {
        s->stop();
        t.join();
    }
    int port() const { return s->port(); }
};

Running& srv() {
    static Running r;
    return r;
}

// the listening sockets of this process's port in /proc/net/tcp{,6}: local addresses in the kernel's hex form
std::vector<std::string> listen_addresses(int port) {
    std::vector<std::string> out;
    char want[8];
    std::snprintf(want, sizeof want, "%04X", port);
    for (const char* f : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(f);
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string sl, local, remote, st;
            ls >> sl >> local >> remote >> st;
            const size_t c = local.find(':');
            if (st == "0A" && c != std::string::npos && local.substr(c + 1) == want) out.push_back(local.substr(0, c));
        }
    }
    return out;
}

}  // namespace

TEST(ServeHttp, ListensOnLoopbackOnlyByDefault) {
    EXPECT_EQ(ServeOptions().host, "127.0.0.1");
    auto addrs = listen_addresses(srv().port());
    ASSERT_EQ(addrs.size(), 1u);
    EXPECT_EQ(addrs[0], "0100007F");  // 127.0.0.1, little-endian hex
    EXPECT_EQ(srv().s->url(), "http://127.0.0.1:" + std::to_string(srv().port()) + "/");
}

TEST(ServeHttp, AnswersWithHeadersAndTheBrowsersBodies) {
    RawResponse r = http_get(srv().port(), "/api/feature/8");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_NE(r.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    WebRequest w;
    w.path = "/api/feature/8";
    EXPECT_EQ(r.body, srv().b->handle(w).body);
    // the query string as sent: '=' inside a value, escapes, '+'
    r = http_get(srv().port(), "/api/features?q=T1%33&sort=id&limit=3");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = json_parse(r.body, "r");
    EXPECT_EQ(j.at("q", "").str, "T13");
    r = http_get(srv().port(), "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    r = http_get(srv().port(), "/static/app.css");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/css; charset=utf-8");
}

TEST(ServeHttp, TraversalMalformedAndOversizedRequestsAre4xx) {
    const int p = srv().port();
    for (const char* t : {"/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2F..%2Fetc%2Fpasswd",
                          "/../../../../etc/passwd", "/static/app.js%00.png", "/api/features?q=%zz", "/api/features?=1",
                          "/api/features?limit=1e9", "/api/feature/1%2e5", "/api/features?q=%ff%fe"}) {
        RawResponse r = http_get(p, t);
        EXPECT_GE(r.status, 400) << t;
        EXPECT_LT(r.status, 500) << t;
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << t;
        EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8") << t;
    }
    // a request line over 8 KiB: 414; a huge query value; junk; a body too large; other methods
    RawResponse r = http_get(p, "/api/features?q=" + std::string(9000, 'a'));
    EXPECT_EQ(r.status, 414);
    r = http_get(p, "/api/features?q=" + std::string(5000, 'a'));
    EXPECT_EQ(r.status, 400);
    r = raw_http(p, "GARBAGE\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    r = raw_http(p, "GET /api/info HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(20000, 'b') + "\r\nConnection: close\r\n\r\n");
    EXPECT_GE(r.status, 400);
    EXPECT_LT(r.status, 500);
    r = raw_http(p, "POST /api/features HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n" +
                        std::string(200000, 'c'));
    EXPECT_EQ(r.status, 405);  // refused before its body is read
    r = raw_http(p, "DELETE /api/feature/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, 405);
    // and it still answers
    EXPECT_EQ(http_get(p, "/api/info").status, 200);
}

TEST(ServeHttp, FiveHundredRequestsFromEightClientsAllAnswerCorrectly) {
    // what each request should get: handle() of the same request
    std::vector<std::string> targets;
    for (int i = 0; i < 500; i++) {
        switch (i % 5) {
            case 0: targets.push_back("/api/feature/" + std::to_string(i % kN)); break;
            case 1: targets.push_back("/api/features?sort=max&limit=20&offset=" + std::to_string(i % 100)); break;
            case 2: targets.push_back("/api/features?q=t" + std::to_string(i % 40) + "&filter=alive"); break;
            case 3: targets.push_back("/feature/" + std::to_string(i % kN)); break;
            default: targets.push_back(i % 10 == 4 ? "/api/feature/" + std::to_string(kN + i) : "/static/app.js");
        }
    }
    std::vector<std::string> expect(targets.size());
    std::vector<int> expect_status(targets.size());
    for (size_t i = 0; i < targets.size(); i++) {
        WebRequest w;
        const size_t q = targets[i].find('?');
        w.path = targets[i].substr(0, q);
        if (q != std::string::npos) w.params = parse_query(targets[i].substr(q + 1));
        WebResponse r = srv().b->handle(w);
        expect[i] = r.body;
        expect_status[i] = r.status;
    }
    std::atomic<int> ok{0}, next{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; c++)
        clients.emplace_back([&] {
            for (int i; (i = next.fetch_add(1)) < (int)targets.size();) {
                RawResponse r = http_get(srv().port(), targets[(size_t)i]);
                if (r.status == expect_status[(size_t)i] && r.body == expect[(size_t)i]) ok++;
            }
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), 500);
}

TEST(ServeHttp, StopsOnStopAndOnShouldStop) {
    TmpDir tmp;
    write_planted_db(tmp.file("p.db"), 10);
    FeatureBrowser b(tmp.file("p.db"));
    std::atomic<bool> flag{false};
    ServeOptions o;
    o.port = 0;
    o.ctx = Context::silent();
    o.ctx.should_stop = [&] { return flag.load(); };
    HttpServer s(b, o);
    const int port = s.port();
    std::atomic<bool> returned{false};
    std::thread t([&] {
        s.run();
        returned = true;
    });
    for (int i = 0; i < 100 && http_get(port, "/api/info").status != 200; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(http_get(port, "/api/info").status, 200);
    const auto t0 = std::chrono::steady_clock::now();
    flag = true;
    t.join();
    EXPECT_TRUE(returned.load());
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
    EXPECT_EQ(http_get(port, "/api/info").status, -1);  // nobody listens any more
    // a port in use is one line
    HttpServer a(b, o);
    ServeOptions o2 = o;
    o2.port = a.port();
    try {
        HttpServer b2(b, o2);
        ADD_FAILURE() << "bound a port in use";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(a.port())), std::string::npos);
    }
}

TEST(ServeHttp, TheCommandServesAndStopsCleanlyOnSigint) {
    TmpDir tmp;
    write_planted_db(tmp.file("p.db"), 10);
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(UNFOLD_BINARY, UNFOLD_BINARY, "serve", tmp.file("p.db").c_str(), "--port", "0", "--quiet", (char*)nullptr);
        _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512] = {0};
    ASSERT_NE(fgets(line, sizeof line, f), nullptr);
    const std::string l = line;
    const size_t u = l.find("http://127.0.0.1:");
    ASSERT_NE(u, std::string::npos) << l;
    const int port = std::atoi(l.c_str() + u + 17);
    EXPECT_EQ(http_get(port, "/api/info").status, 200);
    EXPECT_EQ(json_parse(http_get(port, "/api/feature/3").body, "f").at("feature", "").as_int(""), 3);
    kill(pid, SIGINT);
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    char rest[256] = {0};
    EXPECT_NE(fgets(rest, sizeof rest, f), nullptr);
    EXPECT_EQ(std::string(rest), "stopped\n");
    fclose(f);
    // a bad database or flags: one line, exit 1
    FILE* p = popen((std::string(UNFOLD_BINARY) + " serve " + tmp.file("nothing.db") + " 2>&1").c_str(), "r");
    char err[512] = {0};
    fgets(err, sizeof err, p);
    EXPECT_EQ(WEXITSTATUS(pclose(p)), 1);
    EXPECT_NE(std::string(err).find("unfold: error: "), std::string::npos) << err;
}
