// web_assets.cpp: the feature browser's files, embedded in the binary at build time (cmake/embed_assets.cmake
// turns src/serve/assets/* into arrays), looked up by name.
#include <cstring>
#include <string>

#include "unfold/serve/browser.h"

namespace unfold {

namespace embedded {
struct RawAsset {
    const char* name;
    const unsigned char* data;
    size_t size;
};
extern const RawAsset kAssets[];
extern const size_t kAssetCount;
}  // namespace embedded

namespace {

const char* content_type_of(const std::string& name) {
    auto ends = [&](const char* e) {
        const size_t n = std::strlen(e);
        return name.size() >= n && name.compare(name.size() - n, n, e) == 0;
    };
    if (ends(".css")) return "text/css; charset=utf-8";
    if (ends(".js")) return "text/javascript; charset=utf-8";
    if (ends(".html")) return "text/html; charset=utf-8";
    if (ends(".svg")) return "image/svg+xml";
    if (ends(".png")) return "image/png";
    if (ends(".json")) return "application/json; charset=utf-8";
    return "application/octet-stream";
}

const std::vector<WebAsset>& table() {
    static const std::vector<WebAsset> t = [] {
        std::vector<WebAsset> v;
        for (size_t i = 0; i < embedded::kAssetCount; i++) {
            const auto& a = embedded::kAssets[i];
            v.push_back({a.name, content_type_of(a.name), a.data, a.size});
        }
        return v;
    }();
    return t;
}

}  // namespace

const WebAsset* find_web_asset(const std::string& name) {
    for (const WebAsset& a : table())
        if (name == a.name) return &a;
    return nullptr;
}

std::vector<const WebAsset*> web_assets() {
    std::vector<const WebAsset*> v;
    for (const WebAsset& a : table()) v.push_back(&a);
    return v;
}

}  // namespace unfold
