// tokenizer_cli.h: `unfold lm` commands for corpora and tokenizers (wired into the lm group's dispatch):
//   unfold lm corpus    --source kjv|gcide --out FILE            plain-text corpus from installed packages
//   unfold lm bpe       --corpus FILE --vocab N --out DIR        train a byte-level BPE (vocab.json+merges.txt)
//   unfold lm tokenize  --tokenizer PATH (--text S | --corpus FILE)   ids of a text, or corpus statistics
#pragma once

namespace unfold {

int cmd_lm_corpus(int argc, char** argv);
int cmd_lm_bpe(int argc, char** argv);
int cmd_lm_tokenize(int argc, char** argv);

}  // namespace unfold
