// serve_testing.h: what the feature-browser tests share: a features database with planted values written
// with FeatureDbWriter (token texts and labels that hold markup, dead features, known contexts), a temporary
// folder, and a minimal HTTP/1.1 client on raw sockets (so a test can send what no polite client sends).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "unfold/features/feature_db.h"
#include "unfold/io/json.h"

namespace unfold::serve_testing {

inline const std::string kXss1 = "<script>alert(1)</script>";
inline const std::string kXss2 = "\"><img src=x onerror=alert(1)>";

struct TmpDir {
    std::string path;
    TmpDir() {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/unfold_serve_test_XXXXXX";
        char* p = mkdtemp(tmpl.data());
        if (!p) std::abort();
        path = p;
    }
    ~TmpDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& n) const { return path + "/" + n; }
};

constexpr int kVocab = 64;

inline std::string planted_token(int i) {
    if (i == 5) return kXss1;
    if (i == 6) return kXss2;
    if (i == 7) return " the";
    if (i == 8) return "\n";
    if (i == 9) return "\xc3\x9c" "ber";  // Über
    std::string t = "t";
    return t.append(std::to_string(i));
}

// Feature f of the planted database (n features): every seventh is dead; others fire 10 + 3f times, with three
// top contexts of 8 tokens (ids (f + r + i) % 64, so some hold the markup tokens 5 and 6), two interval samples,
// three logit effects each way, two co-firing features and two neighbours.
inline DbFeature planted_feature(int64_t f, int64_t n) {
    DbFeature d;
    d.id = f;
    const bool dead = f % 7 == 0;
    d.fires = dead ? 0 : 10 + 3 * f;
    d.density = (double)d.fires / 100000.0;
    d.max_act = dead ? 0.0 : 1.0 + (double)(f % 13) * 0.37;
    d.mean_act = d.max_act / 2;
    if (!dead) {
        d.label = f % 5 == 1 ? "\"" + kXss1 + "\" 40%" : f % 5 == 2 ? "\"" + kXss2 + "\" 20%"
                                                                : "\" t" + std::to_string(f % 17) + "\" 30%";
        d.label_tokens = {{(int32_t)(f % 5 == 1 ? 5 : f % 5 == 2 ? 6 : 10 + f % 17), 0.4}, {7, 0.1}};
        d.label_lift = {12.5, 1.5};
    }
    d.hist_hi = d.max_act * 1.01;
    d.histogram.assign(64, 0);
    if (!dead)
        for (int i = 0; i < 64; i++) d.histogram[(size_t)i] = (f + i) % 9 == 0 ? 0 : (int64_t)(64 - i) + f % 3;
    if (!dead) {
        for (int r = 0; r < 3; r++) {
            DbContext c;
            c.kind = "top";
            c.rank = r;
            c.window = 100 * f + r;
            c.first = 2;
            c.pos = 2 + 5;  // max at index 5
            c.corpus_index = 1000 * f + r;
            for (int i = 0; i < 8; i++) {
                c.tokens.push_back((int32_t)((f + r + i) % kVocab));
                const float a = i == 5 ? (float)(d.max_act * (1.0 - 0.1 * r)) : i % 3 == 0 ? 0.0f : 0.05f * (float)i + 0.001f * (float)f;
                c.activations.push_back(a);
            }
            c.value = c.activations[5];
            d.top.push_back(c);
        }
        for (int k = 0; k < 2; k++) {
            DbContext c = d.top[(size_t)k];
            c.kind = "interval";
            c.rank = 15 - k;
            c.lo = d.hist_hi * (15 - k) / 16.0;
            c.hi = d.hist_hi * (16 - k) / 16.0;
            d.intervals.push_back(c);
        }
        for (int r = 0; r < 3; r++) {
            d.promoted.push_back({(int32_t)((f + 3 * r) % kVocab), 1.5 - 0.25 * r});
            d.suppressed.push_back({(int32_t)((f + 3 * r + 1) % kVocab), -1.0 + 0.2 * r});
        }
        d.cofiring = {{(int32_t)((f + 1) % n), 0.5}, {(int32_t)((f + 2) % n), 0.25}};
        d.neighbours = {{(int32_t)((f + 3) % n), 0.75}, {(int32_t)((f + 4) % n), 0.5}};
    }
    return d;
}

// Writes the planted database of n features to path (the density histogram as `features build` bins it).
inline void write_planted_db(const std::string& path, int64_t n) {
    FeatureDbWriter w(path);
    w.meta("schema_version", std::to_string(kFeatureDbSchemaVersion));
    w.meta("producer", "serve_testing");
    w.meta("hook", "blocks.0.hook_resid_post");
    w.meta("model", kXss1 + ".bin");  // the model's path shows on every page too
    w.meta("tokens", "100000");
    w.meta("context", "16");
    w.meta("d_sae", std::to_string(n));
    w.meta("d_in", "8");
    std::vector<int64_t> counts(20, 0);
    for (int64_t f = 0; f < n; f++) {
        const double l = std::log10(planted_feature(f, n).density + 1e-10);
        int b = (int)std::floor((l + 10.0) / 0.5);
        counts[(size_t)std::max(0, std::min(19, b))]++;
    }
    Json h = Json::object();
    Json e = Json::array();
    for (int i = 0; i <= 20; i++) e.push(Json(-10.0 + 0.5 * i));
    h["bin_edges_log10"] = e;
    h["counts"] = Json::array_of(counts);
    w.meta("density_histogram", h.dump(-1));
    std::vector<std::string> vocab;
    for (int i = 0; i < kVocab; i++) vocab.push_back(planted_token(i));
    w.vocab(vocab);
    for (int64_t f = 0; f < n; f++) w.feature(planted_feature(f, n));
    w.commit();
}

// ---- a raw HTTP client ----------------------------------------------------------------------------------

struct RawResponse {
    int status = -1;
    std::string headers, body;
    std::string header(const std::string& name) const {  // case-insensitive; "" when absent
        std::string lh, ln;
        for (char c : headers) lh += (char)std::tolower((unsigned char)c);
        for (char c : name) ln += (char)std::tolower((unsigned char)c);
        size_t p = lh.find("\r\n" + ln + ":");
        if (p == std::string::npos) return "";
        p += 3 + ln.size();
        size_t e = headers.find("\r\n", p);
        std::string v = headers.substr(p, e - p);
        while (!v.empty() && v[0] == ' ') v.erase(0, 1);
        return v;
    }
};

// Sends `request` bytes as they are to 127.0.0.1:port and reads the answer until the server closes.
inline RawResponse raw_http(int port, const std::string& request) {
    RawResponse r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return r;
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (sockaddr*)&a, sizeof a) != 0) {
        close(fd);
        return r;
    }
    size_t off = 0;
    while (off < request.size()) {
        ssize_t k = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (k <= 0) break;
        off += (size_t)k;
    }
    std::string all;
    char buf[65536];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) break;
        all.append(buf, (size_t)k);
    }
    close(fd);
    const size_t he = all.find("\r\n\r\n");
    if (all.rfind("HTTP/1.", 0) != 0 || he == std::string::npos) return r;
    r.status = std::atoi(all.c_str() + 9);
    r.headers = all.substr(0, he + 2);
    r.body = all.substr(he + 4);
    return r;
}

inline RawResponse http_get(int port, const std::string& target) {
    return raw_http(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

}  // namespace unfold::serve_testing
