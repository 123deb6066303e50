// http.cpp: the FeatureBrowser on a port with cpp-httplib (see http.h).
#include "unfold/serve/http.h"

#include <httplib.h>

#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "unfold/core/error.h"
#include "unfold/io/json.h"
#include "unfold/serve/browser.h"

namespace unfold {

namespace {

const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const char* reason_of(int s) {
    switch (s) {
        case 400: return "bad request";
        case 404: return "not found";
        case 405: return "method not allowed";
        case 413: return "request too large";
        case 414: return "request line too long";
        case 431: return "headers too large";
        default: return s >= 500 ? "server error" : "error";
    }
}

}  // namespace

struct HttpServer::Impl {
    const FeatureBrowser& b;
    ServeOptions o;
    httplib::Server svr;
    int port = 0;
    std::atomic<bool> stop_flag{false};
    bool ran = false;
    explicit Impl(const FeatureBrowser& br, const ServeOptions& op) : b(br), o(op) {}
};

HttpServer::HttpServer(const FeatureBrowser& browser, const ServeOptions& o)
    : impl_(std::make_unique<Impl>(browser, o)) {
    Impl& I = *impl_;
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-answer must not end the process
    UNFOLD_CHECK(o.port >= 0 && o.port <= 65535, "--port %d is not a port (0 to 65535)", o.port);
    UNFOLD_CHECK(!o.host.empty(), "--host is empty");
    const int workers = std::max(2, o.workers);
    I.svr.new_task_queue = [workers] { return new httplib::ThreadPool((size_t)workers); };
    I.svr.set_payload_max_length(64 * 1024);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind the same port
    // and silently share its requests
    I.svr.set_socket_options([](int sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    I.svr.set_keep_alive_timeout(2);
    I.svr.set_read_timeout(5);
    I.svr.set_write_timeout(5);
    // the Content-Security-Policy is set per answer (below): a route may bring its own (the map page's inline
    // script), and a browser enforces every CSP header it gets, so a default one could not be relaxed
    I.svr.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                               {"Referrer-Policy", "no-referrer"},
                               {"X-Frame-Options", "DENY"}});
    // every request goes to the browser before httplib's own routing
    I.svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        const auto t0 = std::chrono::steady_clock::now();
        WebRequest w;
        w.method = req.method;
        w.path = req.path;
        WebResponse r;
        // the query as sent (httplib's own parse keeps a value's last '='-piece and lets bad escapes through)
        const size_t qm = req.target.find('?');
        bool ok = true;
        try {
            if (qm != std::string::npos) w.params = parse_query(req.target.substr(qm + 1));
        } catch (const WebError& e) {
            ok = false;
            r.status = e.status;
            Json j = Json::object();
            j["error"] = e.message;
            j["status"] = e.status;
            r.body = j.dump(-1) + "\n";
        }
        if (ok) r = impl_->b.handle(w);
        res.status = r.status;
        bool own_csp = false;
        for (const auto& [k, v] : r.headers) {
            res.set_header(k.c_str(), v.c_str());
            own_csp |= k == "Content-Security-Policy";
        }
        if (!own_csp) res.set_header("Content-Security-Policy", kCsp);
        res.set_content(std::move(r.body), r.content_type.c_str());
        if (impl_->o.log_requests) {
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            impl_->o.ctx.info("%s %s %d %.1f ms", req.method.c_str(), req.path.c_str(), r.status, ms);
        }
        return httplib::Server::HandlerResponse::Handled;
    });
    // answers httplib makes itself (a malformed request line, 414, 413): a JSON error too
    I.svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string m = std::string("{\"error\":\"") + reason_of(res.status) + "\",\"status\":" +
                        std::to_string(res.status) + "}\n";
        res.set_content(m, "application/json; charset=utf-8");
        res.set_header("Content-Security-Policy", kCsp);
        return httplib::Server::HandlerResponse::Handled;
    }));
    I.svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content("{\"error\":\"internal error\",\"status\":500}\n", "application/json; charset=utf-8");
        res.set_header("Content-Security-Policy", kCsp);
    });
    if (o.port == 0) {
        I.port = I.svr.bind_to_any_port(o.host);
        UNFOLD_CHECK(I.port > 0, "cannot listen on %s (any port)", o.host.c_str());
    } else {
        UNFOLD_CHECK(I.svr.bind_to_port(o.host, o.port), "cannot listen on %s:%d (port in use, or not an address of "
                     "this machine)", o.host.c_str(), o.port);
        I.port = o.port;
    }
}

HttpServer::~HttpServer() {
    if (!impl_->ran) {  // bound but never served: let httplib's loop start and close the socket
        impl_->stop_flag.store(true);
        run();
    }
}

int HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const {
    const std::string& h = impl_->o.host;
    const bool v6 = h.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port) + "/";
}

void HttpServer::run() {
    Impl& I = *impl_;
    I.ran = true;
    std::atomic<bool> done{false};
    std::thread t([&] {
        I.svr.listen_after_bind();
        done.store(true);
    });
    while (!I.stop_flag.load() && !done.load()) {
        if (I.o.ctx.should_stop && I.o.ctx.should_stop()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // httplib's stop() does nothing until its loop has started: repeat it until listen returns
    while (!done.load()) {
        I.svr.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t.join();
}

void HttpServer::stop() {
    impl_->stop_flag.store(true);
    impl_->svr.stop();
}

}  // namespace unfold
