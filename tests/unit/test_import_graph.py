"""No import cycles between runofshow's modules (grimp's graph, imports inside functions included).

A cycle is a strongly connected group of two or more modules (or a module importing itself). A
package's `__init__` importing its own submodules would show up as an edge like any other and is
flagged only when the submodules import the package back, which is a real cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp
import pytest

#: cycles that are being removed on another branch; delete an entry once it is merged
KNOWN_CYCLES: set[frozenset[str]] = set()  # none: keep it that way


def cycles(edges: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of `edges` that are cycles (Tarjan's algorithm, iterative)."""
    graph = {v: sorted(set(ws)) for v, ws in edges.items()}
    for ws in list(graph.values()):
        for w in ws:
            graph.setdefault(w, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            if i < len(graph[v]):
                work.append((v, i + 1))
                w = graph[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                group: set[str] = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.add(w)
                    if w == v:
                        break
                if len(group) > 1 or v in graph[v]:
                    found.append(frozenset(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return found


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": ["b"], "b": ["c"], "c": []}, []),
        ({"a": ["b"], "b": ["a"]}, [{"a", "b"}]),
        ({"a": ["a"]}, [{"a"}]),
        ({"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"]}, [{"a", "b", "c"}, {"d", "e"}]),
        ({"p": ["p.x"], "p.x": ["q"], "q": []}, []),  # a package importing its own submodule
        ({"p": ["p.x"], "p.x": ["p"]}, [{"p", "p.x"}]),  # ... that imports the package back
    ],
)
def test_cycles_finds_every_strongly_connected_group(edges, expected):
    assert sorted(map(sorted, cycles(edges))) == sorted(map(sorted, expected))


def test_no_import_cycles_inside_runofshow():
    graph = grimp.build_graph("runofshow", cache_dir=None)
    edges = {m: [x for x in graph.find_modules_directly_imported_by(m) if x in graph.modules]
             for m in graph.modules}
    found = [c for c in cycles(edges) if c not in KNOWN_CYCLES]
    detail = [f"  {m} imports {', '.join(sorted(set(edges[m]) & group))}"
              for group in found for m in sorted(group)]
    assert not found, "import cycles (each module and what it imports inside its cycle):\n" + "\n".join(detail)
