"""A synthetic llama-like FSDP training step (joint forward + backward) as IR, at any size.

Not a capture: a stand-in with llama3's parameter shapes, matmuls, causal SDPA, and per-parameter
FSDP all-gathers at first use and reduce-scatters of weight gradients, for timing the scheduling
passes and checking their behaviour in compute- and communication-bound regimes before captured
graphs exist. Norms are a multiply, the loss a sum of the output projection.
"""

from __future__ import annotations

import attrs

from ctc.ir import Block, DictAttr, Func, Loc, Module, Op, Value, make_op, tensor
from ctc.ir.types import TensorType


@attrs.frozen
class Shape:
    layers: int = 2
    hidden: int = 256
    ffn: int = 512
    heads: int = 4
    kv_heads: int = 2
    tokens: int = 64
    ranks: int = 2
    dtype: str = "bf16"

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


LLAMA3_8B = Shape(32, 4096, 14336, 32, 8, 8192, 8)


class _Builder:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.ops: list[Op] = []
        self.args: list[Value] = []
        self.arg_attrs: list[DictAttr] = []
        self.gathered: dict[str, Value] = {}
        self.returned: list[tuple[Value, str]] = []
        self.count = 0

    def value(self, *shape: int, strides: tuple[int, ...] | None = None) -> Value:
        self.count += 1
        return Value(f"v{self.count}", tensor(self.shape.dtype, *shape, strides=strides))

    def op(
        self,
        name: str,
        operands: list[object],
        result: Value,
        module: str,
        phase: str,
        **attributes: object,
    ) -> Value:
        loc = Loc(module=module, phase=phase)
        self.ops.append(make_op(name, operands, [result], attributes, loc=loc))
        return result

    def param(self, fqn: str, *full: int) -> None:
        shard = Value(
            f"p{len(self.args)}", tensor(self.shape.dtype, full[0] // self.shape.ranks, *full[1:])
        )
        self.args.append(shard)
        self.arg_attrs.append(DictAttr.of({"param": fqn}))
        self.gathered[fqn] = shard

    def weight(self, fqn: str, phase: str = "fwd") -> Value:
        """The gathered weight, all-gathered at its first use."""
        shard = self.gathered[fqn]
        assert isinstance(shard.type, TensorType)
        if shard in self.args:
            full = (shard.type.shape[0] * self.shape.ranks, *shard.type.shape[1:])  # type: ignore[operator]
            module = fqn.rsplit(".", 1)[0]
            pending = self.op(
                "coll.all_gather",
                [shard],
                self.value(*full),
                module,
                phase,
                group="dp_shard",
                size=self.shape.ranks,
                dim=0,
            )  # type: ignore[arg-type]
            self.gathered[fqn] = self.op("coll.wait", [pending], self.value(*full), module, phase)  # type: ignore[arg-type]
        return self.gathered[fqn]

    def linear(self, x: Value, fqn: str) -> Value:
        w = self.weight(fqn)
        out_features, in_features = w.type.shape  # type: ignore[union-attr]
        module = fqn.rsplit(".", 1)[0]
        wt = self.op(
            "aten.permute.default",
            [w],
            self.value(in_features, out_features, strides=(1, in_features)),
            module,
            "fwd",
            dims=[1, 0],
        )  # type: ignore[arg-type]
        return self.op(
            "aten.mm.default", [x, wt], self.value(self.shape.tokens, out_features), module, "fwd"
        )  # type: ignore[arg-type]

    def linear_backward(self, grad: Value, x: Value, fqn: str) -> Value:
        """Reduce-scatters the weight gradient; returns the input gradient."""
        w = self.gathered[fqn]
        out_features, in_features = w.type.shape  # type: ignore[union-attr]
        module = fqn.rsplit(".", 1)[0]
        tokens = self.shape.tokens
        grad_t = self.op(
            "aten.permute.default",
            [grad],
            self.value(out_features, tokens, strides=(1, out_features)),
            module,
            "bwd",
            dims=[1, 0],
        )  # type: ignore[arg-type]
        grad_w = self.op(
            "aten.mm.default", [grad_t, x], self.value(out_features, in_features), module, "bwd"
        )  # type: ignore[arg-type]
        self.reduce_scatter(grad_w, fqn, module)
        return self.op("aten.mm.default", [grad, w], self.value(tokens, in_features), module, "bwd")  # type: ignore[arg-type]

    def reduce_scatter(self, grad: Value, fqn: str, module: str) -> None:
        full = grad.type.shape  # type: ignore[union-attr]
        shard = (full[0] // self.shape.ranks, *full[1:])
        pending = self.op(
            "coll.reduce_scatter",
            [grad],
            self.value(*shard),
            module,
            "bwd",
            group="dp_shard",
            size=self.shape.ranks,
            dim=0,
            reduce_op="sum",
        )  # type: ignore[arg-type]
        self.returned.append(
            (self.op("coll.wait", [pending], self.value(*shard), module, "bwd"), fqn)
        )

    def norm(self, x: Value, fqn: str, phase: str = "fwd") -> Value:
        w = self.weight(fqn)
        return self.op(
            "aten.mul.Tensor",
            [x, w],
            self.value(self.shape.tokens, self.shape.hidden),
            fqn.rsplit(".", 1)[0],
            phase,
        )


def llama_like(shape: Shape = Shape()) -> Module:
    b = _Builder(shape)
    s, t = shape, shape.tokens
    kv = s.kv_heads * s.head_dim
    for layer in range(s.layers):
        prefix = f"layers.{layer}"
        for name, dims in (
            ("attention_norm.weight", (s.hidden,)),
            ("attention.wq.weight", (s.hidden, s.hidden)),
            ("attention.wk.weight", (kv, s.hidden)),
            ("attention.wv.weight", (kv, s.hidden)),
            ("attention.wo.weight", (s.hidden, s.hidden)),
            ("ffn_norm.weight", (s.hidden,)),
            ("feed_forward.w1.weight", (s.ffn, s.hidden)),
            ("feed_forward.w3.weight", (s.ffn, s.hidden)),
            ("feed_forward.w2.weight", (s.hidden, s.ffn)),
        ):
            b.param(f"{prefix}.{name}", *dims)
    b.param("norm.weight", s.hidden)
    b.param("output.weight", 4 * s.hidden, s.hidden)
    x = Value("x", tensor(s.dtype, t, s.hidden))
    b.args.append(x)
    b.arg_attrs.append(DictAttr.of({"input": 0}))
    saved = []
    h = x
    for layer in range(s.layers):
        p = f"layers.{layer}"
        xn = b.norm(h, f"{p}.attention_norm.weight")
        q = b.linear(xn, f"{p}.attention.wq.weight")
        k = b.linear(xn, f"{p}.attention.wk.weight")
        v = b.linear(xn, f"{p}.attention.wv.weight")
        q4 = b.op(
            "aten.view.default",
            [q],
            b.value(1, s.heads, t, s.head_dim),
            p,
            "fwd",
            size=[1, s.heads, t, s.head_dim],
        )
        k4 = b.op(
            "aten.view.default",
            [k],
            b.value(1, s.kv_heads, t, s.head_dim),
            p,
            "fwd",
            size=[1, s.kv_heads, t, s.head_dim],
        )
        v4 = b.op(
            "aten.view.default",
            [v],
            b.value(1, s.kv_heads, t, s.head_dim),
            p,
            "fwd",
            size=[1, s.kv_heads, t, s.head_dim],
        )
        sdpa = "aten._scaled_dot_product_flash_attention.default"
        a4 = b.op(
            sdpa,
            [q4, k4, v4],
            b.value(1, s.heads, t, s.head_dim),
            f"{p}.attention",
            "fwd",
            is_causal=True,
        )
        a = b.op("aten.view.default", [a4], b.value(t, s.hidden), p, "fwd", size=[t, s.hidden])
        o = b.linear(a, f"{p}.attention.wo.weight")
        h1 = b.op("aten.add.Tensor", [h, o], b.value(t, s.hidden), p, "fwd")
        hn = b.norm(h1, f"{p}.ffn_norm.weight")
        g1 = b.linear(hn, f"{p}.feed_forward.w1.weight")
        g3 = b.linear(hn, f"{p}.feed_forward.w3.weight")
        act = b.op("aten.silu.default", [g1], b.value(t, s.ffn), f"{p}.feed_forward", "fwd")
        m = b.op("aten.mul.Tensor", [act, g3], b.value(t, s.ffn), f"{p}.feed_forward", "fwd")
        f = b.linear(m, f"{p}.feed_forward.w2.weight")
        out = b.op("aten.add.Tensor", [h1, f], b.value(t, s.hidden), p, "fwd")
        saved.append((h, xn, q4, k4, v4, a4, a, h1, hn, g1, g3, act, m))
        h = out
    hn = b.norm(h, "norm.weight")
    logits = b.linear(hn, "output.weight")
    loss = b.op("aten.sum.default", [logits], Value("loss", tensor("f32")), "output", "fwd")
    grad = b.op("aten.mul.Tensor", [logits, logits], b.value(t, 4 * s.hidden), "output", "bwd")
    grad = b.linear_backward(grad, hn, "output.weight")
    grad = b.op(
        "aten.mul.Tensor", [grad, b.gathered["norm.weight"]], b.value(t, s.hidden), "norm", "bwd"
    )
    rows = b.op("aten.mul.Tensor", [grad, h], b.value(t, s.hidden), "norm", "bwd")
    b.reduce_scatter(
        b.op("aten.sum.dim_IntList", [rows], b.value(s.hidden), "norm", "bwd", dim=[0]),
        "norm.weight",
        "norm",
    )
    for layer in reversed(range(s.layers)):
        p = f"layers.{layer}"
        h_in, xn, q4, k4, v4, a4, a, h1, hn, g1, g3, act, m = saved[layer]
        d_m = b.linear_backward(grad, m, f"{p}.feed_forward.w2.weight")
        d_act = b.op("aten.mul.Tensor", [d_m, g3], b.value(t, s.ffn), f"{p}.feed_forward", "bwd")
        d_g3 = b.op("aten.mul.Tensor", [d_m, act], b.value(t, s.ffn), f"{p}.feed_forward", "bwd")
        d_g1 = b.op(
            "aten.silu_backward.default", [d_act, g1], b.value(t, s.ffn), f"{p}.feed_forward", "bwd"
        )
        d_hn = b.linear_backward(d_g1, hn, f"{p}.feed_forward.w1.weight")
        d_hn3 = b.linear_backward(d_g3, hn, f"{p}.feed_forward.w3.weight")
        d_hn = b.op("aten.add.Tensor", [d_hn, d_hn3], b.value(t, s.hidden), p, "bwd")
        d_h1 = b.op(
            "aten.mul.Tensor",
            [d_hn, b.gathered[f"{p}.ffn_norm.weight"]],
            b.value(t, s.hidden),
            p,
            "bwd",
        )
        norm_rows = b.op("aten.mul.Tensor", [d_hn, h1], b.value(t, s.hidden), p, "bwd")
        norm_grad = b.op("aten.sum.dim_IntList", [norm_rows], b.value(s.hidden), p, "bwd", dim=[0])
        b.reduce_scatter(norm_grad, f"{p}.ffn_norm.weight", f"{p}.ffn_norm")
        d_h1 = b.op("aten.add.Tensor", [d_h1, grad], b.value(t, s.hidden), p, "bwd")
        d_a = b.linear_backward(d_h1, a, f"{p}.attention.wo.weight")
        d_a4 = b.op(
            "aten.view.default",
            [d_a],
            b.value(1, s.heads, t, s.head_dim),
            p,
            "bwd",
            size=[1, s.heads, t, s.head_dim],
        )
        sdpa_bwd = "aten._scaled_dot_product_flash_attention_backward.default"
        d_q4 = b.op(
            sdpa_bwd,
            [d_a4, q4, k4, v4, a4],
            b.value(1, s.heads, t, s.head_dim),
            f"{p}.attention",
            "bwd",
            is_causal=True,
        )
        d_q = b.op("aten.view.default", [d_q4], b.value(t, s.hidden), p, "bwd", size=[t, s.hidden])
        d_k = b.op(
            "aten.slice.Tensor",
            [d_q],
            b.value(t, kv, strides=(s.hidden, 1)),
            p,
            "bwd",
            dim=1,
            start=0,
            end=kv,
            step=1,
        )
        d_k = b.op("aten.clone.default", [d_k], b.value(t, kv), p, "bwd")
        d_xn = b.linear_backward(d_q, xn, f"{p}.attention.wq.weight")
        d_xk = b.linear_backward(d_k, xn, f"{p}.attention.wk.weight")
        d_xv = b.linear_backward(d_k, xn, f"{p}.attention.wv.weight")
        d_xn = b.op("aten.add.Tensor", [d_xn, d_xk], b.value(t, s.hidden), p, "bwd")
        d_xn = b.op("aten.add.Tensor", [d_xn, d_xv], b.value(t, s.hidden), p, "bwd")
        d_h = b.op(
            "aten.mul.Tensor",
            [d_xn, b.gathered[f"{p}.attention_norm.weight"]],
            b.value(t, s.hidden),
            p,
            "bwd",
        )
        norm_rows = b.op("aten.mul.Tensor", [d_xn, h_in], b.value(t, s.hidden), p, "bwd")
        norm_grad = b.op("aten.sum.dim_IntList", [norm_rows], b.value(s.hidden), p, "bwd", dim=[0])
        b.reduce_scatter(norm_grad, f"{p}.attention_norm.weight", f"{p}.attention_norm")
        grad = b.op("aten.add.Tensor", [d_h, d_h1], b.value(t, s.hidden), p, "bwd")
    returned = [loss] + [value for value, _ in b.returned]
    b.ops.append(make_op("ctc.return", returned))
    result_attrs = [DictAttr.of({"loss": 0})] + [
        DictAttr.of({"grad": fqn}) for _, fqn in b.returned
    ]
    func = Func(
        "joint",
        Block(tuple(b.ops), tuple(b.args)),
        tuple(v.type for v in returned),
        tuple(b.arg_attrs),
        tuple(result_attrs),
    )
    return Module((func,), DictAttr.of({"mesh": [["dp_shard", s.ranks]]}))
