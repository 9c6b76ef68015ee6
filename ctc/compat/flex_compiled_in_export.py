"""Gap: torchtitan 0.3.0's ``FlexAttention`` calls a class-level
``torch.compile(flex_attention)``. Dynamo inlines it, but AOT export without dynamo (ctc's direct
tracer) runs that compiled function for real during its metadata pass, and inductor cannot
compile the flex kernel on the CPU (``InductorError: IndexError``).

``apply()`` makes the class attribute the raw ``flex_attention``, which emits the same
``flex_attention`` higher-order op when traced (it warns once that it runs uncompiled eagerly).
"""

from __future__ import annotations


def apply() -> None:
    from torch.nn.attention.flex_attention import flex_attention
    from torchtitan.models.common.attention import FlexAttention

    FlexAttention._compiled_flex_attn = flex_attention
