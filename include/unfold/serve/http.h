// http.h: a FeatureBrowser on a TCP port (cpp-httplib, Debian's libcpp-httplib-dev).
//
//   FeatureBrowser b("f.db");
//   ServeOptions o;                     // 127.0.0.1, port 8000
//   HttpServer s(b, o);                 // binds now: a taken port or a bad host is a one-line error
//   std::printf("%s\n", s.url().c_str());
//   s.run();                            // answers until stop() or o.ctx.should_stop() (Ctrl-C in the CLI)
//
// Every request becomes a WebRequest for FeatureBrowser::handle (GET and HEAD; others 405). Answers carry
// X-Content-Type-Options: nosniff and a Content-Security-Policy that allows only the browser's own scripts
// and styles; request lines longer than 8 KiB get 414, bodies beyond 64 KiB 413. The constructor ignores
// SIGPIPE for the process (a client that hangs up mid-answer must not end it).
#pragma once
#include <memory>
#include <string>

#include "unfold/core/context.h"

namespace unfold {

class FeatureBrowser;

struct ServeOptions {
    std::string host = "127.0.0.1";  // loopback unless told otherwise
    int port = 8000;                 // 0 = any free port (see HttpServer::port)
    int workers = 16;                // threads answering requests
    bool log_requests = false;       // one line per request on ctx's log
    Context ctx;                     // should_stop is polled every 50 ms
};

class HttpServer {
  public:
    HttpServer(const FeatureBrowser& browser, const ServeOptions& o);
    ~HttpServer();  // stops and joins
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const;         // the bound port
    std::string url() const;  // http://host:port/
    void run();               // blocks until stop() or should_stop(); returns after a clean stop
    void stop();              // from any thread

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace unfold
