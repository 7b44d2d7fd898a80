"""Griffe extension for the documentation build (mkdocs.yml): jqgen's docstrings use Sphinx
roles (``:func:`fit```, ``:class:`jqgen.QCBM```), which Markdown would print literally. Each
role becomes an optional cross-reference: a link when its target is rendered on a page of
the API reference (resolved in the docstring's scope, as Sphinx does), plain code otherwise.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|const):`[~!]?([A-Za-z_][\w.]*)(?:\(\))?`")
#: The packages whose members the API reference renders (docs/api/*.md), deepest first.
RENDERED = ("jqgen.mps", "jqgen.qcbm", "jqgen.training", "jqgen.evaluation", "jqgen.distributions",
            "jqgen.metrics", "jqgen.data", "jqgen.spaces", "jqgen.synergy", "jqgen.hardware", "jqgen.geo",
            "jqgen.checkpoint", "jqgen.protocol", "jqgen.bits", "jqgen")


def _canonical(obj: Any) -> str | None:
    try:
        return obj.canonical_path
    except Exception:  # an alias whose target is outside the loaded packages
        return None


class SphinxRoles(griffe.Extension):
    """Rewrites Sphinx roles in every docstring of the loaded package into optional autorefs."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "jqgen":
            return
        coll = loader.modules_collection
        public: dict[str, str] = {}  # canonical path -> the path the API reference renders it under
        for name in RENDERED:
            try:
                mod = coll[name]
            except KeyError:
                continue
            public.setdefault(name, name)
            for member in mod.members.values():
                if not member.name.startswith("_") and (c := _canonical(member)):
                    public.setdefault(c, f"{name}.{member.name}")
                    if member.is_class or (member.is_alias and getattr(member, "is_class", False)):
                        for sub in member.members.values():
                            if not sub.name.startswith("_") and (cs := _canonical(sub)):
                                public.setdefault(cs, f"{name}.{member.name}.{sub.name}")

        def resolve(target: str, scope: Any) -> str | None:
            candidates = [target] if target.startswith("jqgen") else []
            s = scope
            while s is not None:
                candidates.append(f"{s.path}.{target}")
                s = s.parent
            candidates.append(f"jqgen.{target}")
            for cand in candidates:
                try:
                    c = _canonical(coll[cand])
                except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                    continue
                if c is not None and c in public:
                    return public[c]
            return None

        def rewrite(obj: Any) -> None:
            if obj.docstring is not None and ":" in obj.docstring.value:
                def sub(m: re.Match) -> str:
                    target = m.group(1)
                    ident = resolve(target, obj if not obj.is_attribute else obj.parent)
                    if ident is None:
                        return f"`{target}`"
                    return f'<autoref identifier="{ident}" optional><code>{target}</code></autoref>'
                obj.docstring.value = ROLE.sub(sub, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    rewrite(member)

        rewrite(pkg)

    # griffe < 2 calls the same event on_package_loaded
    on_package_loaded = on_package
