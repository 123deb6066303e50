// checkpoint.h: loading and saving transformer weights.
//
// Formats:
//   - llama2.c legacy .bin (v0): 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//     vocab_size [negative = separate classifier], seq_len), then float32 tensors grouped by type over layers
//     (see checkpoint_llama2c.cpp). The size must match the header exactly; the stored rotary tables must
//     match theta 10000.
//   - Hugging Face layout: a folder with config.json + model.safetensors (or a .safetensors path with
//     config.json beside it). GPT-2 names wte/wpe/h.{i}.*/ln_f (an optional "transformer." prefix is
//     accepted), Conv1D weights [in, out]; Llama names model.embed_tokens / model.layers.{i}.* / model.norm /
//     lm_head, Linear weights [out, in], q/k rows in HF's rotate-half order (permuted on load and save).
// Errors are one line naming the file and the field.
#pragma once
#include <string>
#include <vector>

#include "unfold/io/safetensors.h"
#include "unfold/lm/model.h"

namespace unfold {

// Detects the format from the path (.bin file, folder, or .safetensors file).
void lm_load(LmModel& m, const std::string& path);
void lm_load_llama2c(LmModel& m, const std::string& path);
void lm_load_hf(LmModel& m, const std::string& path);

// Writes <dir>/model.safetensors and <dir>/config.json (atomic; creates dir).
void lm_save_hf(const LmModel& m, const std::string& dir, const std::map<std::string, std::string>& metadata = {});

// The parameters (or, with grads = true, their gradients) as HF-named, HF-layout tensors. `storage` keeps
// the permuted copies alive while the returned views are used.
std::vector<StWriteTensor> lm_hf_tensors(const LmModel& m, bool grads, std::vector<std::vector<float>>& storage);

// HF rotate-half row order <-> interleaved (Meta) row order for a [nheads*hs, cols] projection.
void rope_rows_hf_to_interleaved(float* w, int64_t nheads, int64_t hs, int64_t cols);
void rope_rows_interleaved_to_hf(float* w, int64_t nheads, int64_t hs, int64_t cols);

}  // namespace unfold
