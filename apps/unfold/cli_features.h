// cli_features.h: what the commands that put an SAE into a model share (lm generate / eval with --sae,
// sae eval --model, the `unfold features` group): the flags, the SAE + its hook + the edits.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "unfold/features/splice.h"
#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"
#include "unfold/sae/sae.h"

namespace unfold {

int cmd_features(int argc, char** argv);

// --sae, --hook (the SAE's own flags)
std::vector<OptSpec> sae_hook_opts();
// --sae, --hook, --steer, --scale, --ablate, --splice
std::vector<OptSpec> sae_edit_opts();

// An SAE placed at its hook in a model, with the edits of the command line.
struct SaeAtHook {
    Sae sae;
    std::string path, hook;
    SpliceOptions splice;
    HookSet hooks;  // the splice hook (empty when --sae was not given)
    bool active() const { return !path.empty(); }
};

// Loads --sae (if given) and resolves its hook in m (--hook overrides). With edit flags (sae_edit_opts) also
// parses --steer/--scale/--ablate/--splice and builds the hook. Edits without --sae are an error. The
// returned object must stay where it is while its hooks are used (they point at its sae).
std::unique_ptr<SaeAtHook> sae_at_hook_from_args(const Args& a, const LmModel& m, bool with_edits);

// context length for an SAE command: --context if given, else the SAE's recorded context_size, else `def`
int64_t sae_context_from_args(const Args& a, const Sae& sae, int64_t def);

}  // namespace unfold
