import heapq


def top_k_words(words, k):
    """The k most frequent words, most frequent first; ties alphabetically."""
    if k <= 0:
        return []
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    # nsmallest keeps a heap of size k: O(n log k), not O(n log n).
    return [w for _, w in heapq.nsmallest(k, ((-c, w) for w, c in counts.items()), key=lambda p: p[0])]
