// metrics.cpp: per-instance feature geometry of a toy model (Elhage et al. 2022, notebook definitions).
//
//   ||W_i||                          norm of feature i's hidden direction (column i of W [m, n])
//   interference_i = sum_{j != i} (W^_i . W_j)^2,   W^_i = W_i / max(||W_i||, 1e-6)
//   D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2          (sum includes j = i; 0 for an unlearned feature)
//   dims per feature = m / ||W||_F^2
#include <algorithm>
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/toy/toy.h"

namespace unfold {

ToyInstanceMetrics toy_instance_metrics(const float* W, int m, int n) {
    ToyInstanceMetrics r;
    r.norms.assign(n, 0.0f);
    r.interference.assign(n, 0.0f);
    r.dimensionality.assign(n, 0.0f);
    std::vector<double> col((size_t)n * m);  // column-major copy: col[i*m + k] = W[k, i]
    double frob = 0;
    for (int k = 0; k < m; k++)
        for (int i = 0; i < n; i++) col[(size_t)i * m + k] = W[(size_t)k * n + i];
    std::vector<double> norm(n);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < m; k++) s += col[(size_t)i * m + k] * col[(size_t)i * m + k];
        norm[i] = std::sqrt(s);
        frob += s;
        r.norms[i] = (float)norm[i];
    }
    for (int i = 0; i < n; i++) {
        const double inv = 1.0 / std::max(norm[i], 1e-6);
        const double* wi = &col[(size_t)i * m];
        double self = 0, others = 0;
        for (int j = 0; j < n; j++) {
            const double* wj = &col[(size_t)j * m];
            double d = 0;
            for (int k = 0; k < m; k++) d += wi[k] * wj[k];
            d *= inv;
            if (j == i)
                self = d * d;
            else
                others += d * d;
        }
        r.interference[i] = (float)others;
        const double denom = self + others;
        r.dimensionality[i] = denom > 1e-30 ? (float)(norm[i] * norm[i] / denom) : 0.0f;
    }
    r.dims_per_feature = frob > 0 ? (float)(m / frob) : 0.0f;
    return r;
}

Json toy_metrics_json(ToyModel& model) {
    const ToyConfig& c = model.cfg;
    const int I = c.n_instances, n = c.n_features, m = c.n_hidden;
    std::vector<float> loss = toy_eval_loss(model);
    std::vector<float> recon = c.l1_hidden > 0 ? toy_eval_recon_loss(model) : loss;
    Json j = Json::object();
    j["format"] = "unfold-toy-metrics-v1";
    j["model"] = toy_kind_name(c.kind);
    j["eval_batch"] = c.eval_batch;
    double mean = 0;
    for (float l : loss) mean += l;
    j["mean_loss"] = mean / I;
    Json arr = Json::array();
    const float* b = model.params.get("b");
    for (int inst = 0; inst < I; inst++) {
        Json e = Json::object();
        e["instance"] = inst;
        double pd = 0;
        bool uniform = true;
        for (int f = 0; f < n; f++) {
            pd += c.density_at(inst, f);
            if (c.density_at(inst, f) != c.density_at(inst, 0)) uniform = false;
        }
        e["density"] = pd / n;
        if (!uniform) {
            std::vector<float> fd(c.density.begin() + (size_t)inst * n, c.density.begin() + (size_t)(inst + 1) * n);
            e["feature_density"] = Json::array_of(fd);
        }
        e["loss"] = loss[inst];
        if (c.l1_hidden > 0) e["recon_loss"] = recon[inst];
        ToyInstanceMetrics mt = toy_instance_metrics(toy_feature_weights(model, inst), m, n);
        double frob = 0;
        for (float v : mt.norms) frob += (double)v * v;
        e["dims_per_feature"] = mt.dims_per_feature;
        e["frobenius_sq"] = frob;
        e["norms"] = Json::array_of(mt.norms);
        e["interference"] = Json::array_of(mt.interference);
        e["dimensionality"] = Json::array_of(mt.dimensionality);
        std::vector<float> bi(b + (size_t)inst * n, b + (size_t)(inst + 1) * n);
        e["bias"] = Json::array_of(bi);
        arr.push(std::move(e));
    }
    j["instances"] = std::move(arr);
    return j;
}

}  // namespace unfold
