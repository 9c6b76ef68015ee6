"""A llama-like training step in plain torch (no torchtitan, which does not import under torch
2.11), for the GPU bench of issue 14 and for tests at a tiny size on the CPU.

The architecture follows llama3: token embedding; per layer RMSNorm, grouped-query causal
attention with rotary embeddings (SDPA), RMSNorm and a SwiGLU feed-forward, each with a residual;
a final RMSNorm, an untied output projection and cross-entropy against the labels. The forward
runs under bf16 autocast (``autocast=False`` for a float32 step). Rotary embeddings use the
rotate-half form on real tensors (no complex dtypes in the captured graph); its cos/sin tables
are non-persistent buffers.

``SIZES`` holds the two bench sizes of issue 14 (``debug``: dim 256 x 6 layers, vocabulary 2048,
batch 8 x sequence 2048, like torchtitan's llama3 debugmodel; ``1B``: dim 2048 x 16 layers,
vocabulary 128256, batch 4 x 2048, like llama 3.2 1B) and ``tiny`` for the CPU.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn as nn
import torch.nn.functional as F

from ctc.errors import CtcError


def ffn_hidden_size(dim: int, multiplier: float = 1.0, multiple_of: int = 256) -> int:
    """llama3's feed-forward width: 2/3 of 4 x dim, scaled, rounded up to ``multiple_of``."""
    hidden = int(multiplier * int(2 * 4 * dim / 3))
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


@attrs.frozen
class LlamaSize:
    """A model shape and the batch it trains on."""

    name: str
    dim: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    ffn_hidden: int
    batch: int
    seq_len: int
    rope_theta: float = 500000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def tokens_per_step(self) -> int:
        return self.batch * self.seq_len


SIZES = {
    "tiny": LlamaSize("tiny", 32, 2, 4, 2, 64, ffn_hidden_size(32, multiple_of=16), 2, 16),
    "debug": LlamaSize("debug", 256, 6, 16, 16, 2048, ffn_hidden_size(256), 8, 2048),
    "1B": LlamaSize("1B", 2048, 16, 32, 8, 128256, ffn_hidden_size(2048, 1.5), 4, 2048),
}


def size_named(name: str) -> LlamaSize:
    if name not in SIZES:
        raise CtcError(f"unknown llama size '{name}' (sizes: {', '.join(SIZES)})")
    return SIZES[name]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalised in float32 as llama does, whatever autocast chose for x.
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


def rotary_tables(size: LlamaSize) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of each position x frequency, ``[seq_len, head_dim]`` (halves repeated)."""
    half = size.head_dim // 2
    frequencies = 1.0 / (size.rope_theta ** (torch.arange(half, dtype=torch.float32) / half))
    angles = torch.outer(torch.arange(size.seq_len, dtype=torch.float32), frequencies)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of ``x`` ``[batch, heads, seq, head_dim]``, rotate-half form."""
    first, second = x.chunk(2, dim=-1)
    rotated = torch.cat([-second, first], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, size: LlamaSize) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = size.heads, size.kv_heads, size.head_dim
        self.wq = nn.Linear(size.dim, size.heads * size.head_dim, bias=False)
        self.wk = nn.Linear(size.dim, size.kv_heads * size.head_dim, bias=False)
        self.wv = nn.Linear(size.dim, size.kv_heads * size.head_dim, bias=False)
        self.wo = nn.Linear(size.heads * size.head_dim, size.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        q = self.wq(x).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        repeats = self.heads // self.kv_heads
        if repeats > 1:  # grouped-query attention: each kv head serves ``repeats`` query heads
            k = k.repeat_interleave(repeats, dim=1)
            v = v.repeat_interleave(repeats, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.wo(out.transpose(1, 2).reshape(batch, seq, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, size: LlamaSize) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(size.dim, size.norm_eps)
        self.attention = Attention(size)
        self.ffn_norm = RMSNorm(size.dim, size.norm_eps)
        self.feed_forward = FeedForward(size.dim, size.ffn_hidden)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin)
        return h + self.feed_forward(self.ffn_norm(h))


class LlamaStep(nn.Module):
    """``step(tokens, labels) -> loss``: the model and its cross-entropy, under bf16 autocast."""

    rope_cos: torch.Tensor
    rope_sin: torch.Tensor

    def __init__(self, size: LlamaSize, autocast: bool = True) -> None:
        super().__init__()
        self.size = size
        self.autocast = autocast
        self.tok_embeddings = nn.Embedding(size.vocab, size.dim)
        self.layers = nn.ModuleList([Block(size) for _ in range(size.layers)])
        self.norm = RMSNorm(size.dim, size.norm_eps)
        self.output = nn.Linear(size.dim, size.vocab, bias=False)
        cos, sin = rotary_tables(size)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        seq = tokens.shape[1]
        cos, sin = self.rope_cos[:seq], self.rope_sin[:seq]
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            h = self.tok_embeddings(tokens)
            for layer in self.layers:
                h = layer(h, cos, sin)
            logits = self.output(self.norm(h))
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten())


def init_weights(step: LlamaStep, seed: int = 0) -> None:
    """Normal(0, 0.02) weights and unit norms, drawn on the parameters' device from ``seed`` (on
    a GPU, drawing there keeps a 1B model's start from costing seconds of host time)."""
    generators: dict[torch.device, torch.Generator] = {}
    with torch.no_grad():
        for name, parameter in step.named_parameters():
            if name.endswith("norm.weight"):
                parameter.fill_(1.0)
                continue
            device = parameter.device
            if device not in generators:
                generators[device] = torch.Generator(device=device).manual_seed(seed)
            values = torch.randn(
                parameter.shape, generator=generators[device], device=device, dtype=parameter.dtype
            )
            parameter.copy_(values * 0.02)


def build_llama(
    size: LlamaSize, device: str | torch.device = "cpu", seed: int = 0, autocast: bool = True
) -> LlamaStep:
    """The step with its weights from ``seed`` on ``device`` (built there directly)."""
    with torch.device(device):
        step = LlamaStep(size, autocast=autocast)
    init_weights(step, seed)
    return step


def llama_batch(
    size: LlamaSize, device: str | torch.device = "cpu", seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens and their next-token labels, ``[batch, seq_len]`` each."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    sequence = torch.randint(0, size.vocab, (size.batch, size.seq_len + 1), generator=generator)
    return sequence[:, :-1].to(device), sequence[:, 1:].to(device)


def parameter_count(size: LlamaSize) -> int:
    """Parameters of the model, from its shape alone."""
    attention = (
        2 * size.dim * size.heads * size.head_dim + 2 * size.dim * size.kv_heads * size.head_dim
    )
    layer = attention + 3 * size.dim * size.ffn_hidden + 2 * size.dim
    return size.layers * layer + 2 * size.vocab * size.dim + size.dim
