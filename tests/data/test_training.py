"""The corpus is learnable: torchtitan's llama3 debugmodel, trained eagerly on one process with
torchtitan's AdamW on ctc's corpus and tokenizer, gets its loss down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ctc.data import TextAssets, load_tokenizer, prepare_text_assets, torchtitan_data_settings

SEED, STEPS, SEQUENCE, BATCH = 0, 30, 64, 2
LEARNING_RATE = 8e-4  # torchtitan's default AdamW rate, the llama3 debugmodel config's
DEBUGMODEL_VOCAB_SIZE = 2048  # llama3's and deepseek_v3's debugmodel


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> TextAssets:
    return prepare_text_assets(
        vocab_size=DEBUGMODEL_VOCAB_SIZE, cache_dir=tmp_path_factory.mktemp("cache")
    )


@pytest.fixture
def one_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine's two cores are shared
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_the_assets_are_built_then_cached(assets: TextAssets) -> None:
    assert assets.corpus_built and assets.tokenizer_built
    assert assets.vocab_size == DEBUGMODEL_VOCAB_SIZE
    cached = prepare_text_assets(
        vocab_size=DEBUGMODEL_VOCAB_SIZE, cache_dir=assets.corpus_path.parent
    )
    assert (cached.corpus_path, cached.tokenizer_path) == (
        assets.corpus_path,
        assets.tokenizer_path,
    )
    assert not cached.corpus_built and not cached.tokenizer_built
    assert cached.describe() == (
        f"corpus: {assets.corpus_path} (cached)\n"
        f"tokenizer: {assets.tokenizer_path} (cached, vocabulary {DEBUGMODEL_VOCAB_SIZE})"
    )


def _train_losses(assets: TextAssets) -> list[float]:
    import torch
    from torchtitan.components.loss import cross_entropy_loss
    from torchtitan.components.optimizer import default_adamw

    # The sdpa variant of torchtitan's llama3 debugmodel: the flex one has no CPU backward.
    from torchtitan.experiments.graph_trainer.llama3 import model_registry

    settings = torchtitan_data_settings(assets.corpus_path, assets.tokenizer_path)
    tokenizer = load_tokenizer(settings.hf_assets_path)
    torch.manual_seed(SEED)
    model_config = model_registry("debugmodel", attn_backend="sdpa").model
    assert model_config.vocab_size >= assets.vocab_size
    with torch.device("meta"):
        model = model_config.build()
    model.to_empty(device="cpu")
    with torch.no_grad():
        model.init_weights(buffer_device=None)
    model.train()
    optimizer = default_adamw(lr=LEARNING_RATE).build(model_parts=[model])
    dataloader = settings.dataloader.build(
        dp_world_size=1, dp_rank=0, tokenizer=tokenizer, seq_len=SEQUENCE, local_batch_size=BATCH
    )
    losses = []
    batches = iter(dataloader)
    for _ in range(STEPS):
        inputs, labels = next(batches)
        logits = model(inputs["input"], positions=inputs["positions"])
        loss = cross_entropy_loss(logits, labels) / labels.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_llama3_debugmodel_learns_the_corpus(assets: TextAssets) -> None:
    losses = _train_losses(assets)
    late_mean = sum(losses[20:30]) / 10
    assert late_mean <= 0.9 * losses[0], losses
