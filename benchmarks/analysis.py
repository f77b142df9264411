"""Representation analysis for the reproduction benchmark: sentence retrieval and a token t-SNE.

Both compare how close a teacher puts source sentences/tokens and their translations — the quantity
TCL and LCL are meant to improve (paper section on representation analysis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def encode(model, tokenizer, sentences: list[list[str]], batch_size: int = 32, max_length: int = 128):
    """Mean-pooled sentence vectors `(S, H)` and first-sub-word token vectors with their word positions."""
    from modeling_concner.modeling_concner import mean_pool

    model.eval()
    encoder = getattr(model, "bert", model)
    sentence_vectors, token_vectors, token_words = [], [], []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        enc = tokenizer(
            chunk, is_split_into_words=True, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        hidden = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        sentence_vectors.append(mean_pool(hidden, enc["attention_mask"]).float().numpy())
        for row in range(len(chunk)):
            seen = set()
            for pos, word in enumerate(enc.word_ids(row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    token_vectors.append(hidden[row, pos].float().numpy())
                    token_words.append((start + row, word))
    return np.concatenate(sentence_vectors), np.stack(token_vectors), token_words


def retrieval_accuracy(source: np.ndarray, target: np.ndarray) -> float:
    """Share of source sentences whose nearest target sentence (cosine) is their own translation, and back.

    Args:
        source (`np.ndarray` of shape `(N, H)`), target (`np.ndarray` of shape `(N, H)`): row i ↔ row i.

    Returns:
        The mean of source→target and target→source top-1 accuracy.
    """
    s = source / np.linalg.norm(source, axis=1, keepdims=True)
    t = target / np.linalg.norm(target, axis=1, keepdims=True)
    sim = s @ t.T
    gold = np.arange(len(s))
    return float(((sim.argmax(1) == gold).mean() + (sim.argmax(0) == gold).mean()) / 2)


def tsne_plot(
    points: dict[str, tuple[np.ndarray, list[str], list[str]]], path: str | Path, max_points: int = 1500, seed: int = 0
) -> Path:
    """One t-SNE panel per model: token vectors coloured by label, marker by side (source ○ / translation ×).

    Args:
        points: model name → (vectors `(T, H)`, labels per vector, side per vector: "source" | "translation").
        path: output PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    fig, axes = plt.subplots(1, len(points), figsize=(7 * len(points), 6), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, (name, (vectors, labels, sides)) in zip(axes[0], points.items()):
        # every entity token (up to 3/4 of the points), O tokens only as background
        entity = np.array([label != "O" for label in labels])
        ent_idx, o_idx = rng.permutation(np.nonzero(entity)[0]), rng.permutation(np.nonzero(~entity)[0])
        ent_idx = ent_idx[: (3 * max_points) // 4]
        keep = np.concatenate([ent_idx, o_idx[: max_points - len(ent_idx)]])
        xy = TSNE(n_components=2, init="pca", random_state=seed, perplexity=30).fit_transform(vectors[keep])
        labels_k = [labels[i] for i in keep]
        sides_k = [sides[i] for i in keep]
        names = sorted(set(labels_k))
        colours = plt.get_cmap("tab10")
        for c, label in enumerate(names):
            for side, marker in (("source", "o"), ("translation", "x")):
                idx = [i for i, (lab, s) in enumerate(zip(labels_k, sides_k)) if lab == label and s == side]
                if idx:
                    ax.scatter(
                        xy[idx, 0],
                        xy[idx, 1],
                        s=8,
                        marker=marker,
                        color=colours(c % 10),
                        label=f"{label} ({side})",
                        alpha=0.7,
                    )
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
