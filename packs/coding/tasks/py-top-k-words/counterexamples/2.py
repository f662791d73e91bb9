from collections import Counter


def top_k_words(words, k):
    if k <= 0:
        return []
    return [w for w, _ in sorted(Counter(words).items(), key=lambda p: (-p[1], p[0]))[:k]]
