// sae_checkpoint.cpp: write/read the single-file SAE training checkpoint (see sae_checkpoint.h).
#include "unfold/sae/sae_checkpoint.h"

#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/sae/sae_train.h"

namespace unfold {

static const char MAGIC[9] = "UNFSAECK";
static const uint32_t VERSION = 1;

void sae_checkpoint_save(const std::string& path, const SaeTrainState& st) {
    const int64_t F = st.sae.F();
    const size_t np = st.sae.params.size();
    Json j = Json::object();
    j["step"] = st.step;
    j["adam_t"] = st.adam.t;
    j["threshold"] = st.sae.threshold;
    j["scale"] = st.scale;
    j["window_tokens"] = st.window_tokens;
    j["n_params"] = (int64_t)np;
    j["d_sae"] = F;
    j["train_cfg"] = st.train_cfg;
    j["source_state"] = st.source_state;
    j["log"] = st.log;
    std::string js = j.dump(-1);
    AtomicFile f(path);
    f.write(MAGIC, 8);
    f.write(&VERSION, 4);
    uint64_t n = js.size();
    f.write(&n, 8);
    f.write(js);
    f.write(st.sae.params.data.data(), np * 4);
    f.write(st.adam.m.data(), np * 4);
    f.write(st.adam.v.data(), np * 4);
    f.write(st.since_fired.data(), (size_t)F * 8);
    f.write(st.fire_window.data(), (size_t)F * 8);
    f.commit();
}

SaeTrainState sae_checkpoint_load(const std::string& path) {
    std::string b = read_file(path);
    const char* p = b.data();
    UNFOLD_CHECK(b.size() >= 20 && std::memcmp(p, MAGIC, 8) == 0, "%s: not an unfold SAE checkpoint (bad magic)",
                 path.c_str());
    uint32_t ver;
    std::memcpy(&ver, p + 8, 4);
    UNFOLD_CHECK(ver == VERSION, "%s: checkpoint version %u, expected %u", path.c_str(), ver, VERSION);
    uint64_t jn;
    std::memcpy(&jn, p + 12, 8);
    UNFOLD_CHECK(jn <= b.size() - 20, "%s: header length %llu exceeds the file", path.c_str(), (unsigned long long)jn);
    Json j = json_parse(b.substr(20, (size_t)jn), path);
    SaeTrainState st;
    st.train_cfg = j.at("train_cfg", path);
    SaeTrainConfig tc = SaeTrainConfig::from_json(st.train_cfg, path + ": train_cfg");
    st.sae = sae_init(tc.sae, 0, 1.0f);
    const size_t np = st.sae.params.size();
    const int64_t F = st.sae.F();
    UNFOLD_CHECK(j.at("n_params", path).as_int(path + ": n_params") == (int64_t)np &&
                     j.at("d_sae", path).as_int(path + ": d_sae") == F,
                 "%s: parameter count does not match the stored config", path.c_str());
    const uint64_t need = 20 + jn + (uint64_t)np * 12 + (uint64_t)F * 16;
    UNFOLD_CHECK(b.size() == need, "%s: %zu bytes, expected %llu for %zu parameters and %lld latents", path.c_str(),
                 b.size(), (unsigned long long)need, np, (long long)F);
    st.step = j.at("step", path).as_int(path + ": step");
    st.adam.init(np);
    st.adam.t = j.at("adam_t", path).as_int(path + ": adam_t");
    st.sae.threshold = (float)j.at("threshold", path).as_num(path + ": threshold");
    st.scale = (float)j.at("scale", path).as_num(path + ": scale");
    st.window_tokens = j.at("window_tokens", path).as_int(path + ": window_tokens");
    st.source_state = j.at("source_state", path);
    st.log = j.at("log", path);
    UNFOLD_CHECK(st.log.is_arr(), "%s: log: expected an array", path.c_str());
    const char* q = p + 20 + jn;
    std::memcpy(st.sae.params.data.data(), q, np * 4);
    q += np * 4;
    std::memcpy(st.adam.m.data(), q, np * 4);
    q += np * 4;
    std::memcpy(st.adam.v.data(), q, np * 4);
    q += np * 4;
    st.since_fired.resize((size_t)F);
    st.fire_window.resize((size_t)F);
    std::memcpy(st.since_fired.data(), q, (size_t)F * 8);
    q += F * 8;
    std::memcpy(st.fire_window.data(), q, (size_t)F * 8);
    for (float v : st.sae.params.data)
        UNFOLD_CHECK(std::isfinite(v), "%s: non-finite parameter value (corrupt checkpoint)", path.c_str());
    return st;
}

}  // namespace unfold
