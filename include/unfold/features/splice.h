// splice.h: an SAE placed at a hook of a model: steering, ablation and the dictionary in place of the layer.
//
// At the hook, each activation row x (length d_in of the SAE) is encoded, the chosen latents are edited,
// and the row is replaced by
//   keep_error = true  (steering, ablation):  x + (decode(edited codes) - decode(codes))
//                      = reconstruction with the edits + the SAE's error term (x - reconstruction);
//                      with no edit the row is left exactly as it is, so the model's output is unchanged
//                      byte for byte;
//   keep_error = false (splicing):            decode(edited codes), the dictionary alone.
// The later layers then run on the replaced rows. Edits: clamp latent F to V at every position (steer),
// multiply it by x (scale), set it to 0 (ablate). Positions before `from_position` are left alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct SaeEdit {
    enum Kind { CLAMP, SCALE, ABLATE };
    Kind kind = CLAMP;
    int64_t feature = 0;
    float value = 0;  // CLAMP: the value; SCALE: the factor; ABLATE: unused
};

// "F=V,G=W" (--steer), "F=x" (--scale), "F,G" (--ablate); any may be empty. Features must be in [0, d_sae);
// values finite. Errors name the flag.
std::vector<SaeEdit> parse_sae_edits(const std::string& steer, const std::string& scale, const std::string& ablate,
                                     int64_t d_sae);
std::string describe_sae_edits(const std::vector<SaeEdit>& edits);  // "clamp 12=8, ablate 3"

struct SpliceOptions {
    std::vector<SaeEdit> edits;
    bool keep_error = true;
    int64_t from_position = 0;  // rows at sequence positions < this are untouched (e.g. skip BOS)
};

// The hook that does it (data [B, T, d_in], or [N, d_in]). The SAE must outlive the hook.
HookFn hook_sae_splice(const Sae& sae, const SpliceOptions& o);

// Replaces every row of the activation [.., d] in place (one call = one batch of rows): the row function of
// hook_sae_splice, for callers that hold rows themselves. rows x [n, d]; pos[n] (may be null) their positions.
void sae_splice_rows(const Sae& sae, const SpliceOptions& o, float* x, int64_t n, const int64_t* pos = nullptr);

// The hook an SAE sits on in model m: `override_hook` when given, else the SAE's recorded hook_name. Fails
// with one line when neither names a hook, the name is not a hook of m, it is not a per-token hook, or its
// width differs from the SAE's d_in ("hook 'blocks.0.hook_resid_post' has width 64 but the SAE's d_in is 512").
std::string sae_hook_for(const LmModel& m, const Sae& sae, const std::string& override_hook);

}  // namespace unfold
