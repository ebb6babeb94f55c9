"""Behaviour trees (BehaviorTree.CPP v4): refused before they are stored or sent when malformed.

XPARO robots keep the inside of `<BehaviorTree ID="MainTree">` and wrap it themselves, so both a
whole `<root BTCPP_format="4">` document and such a fragment are accepted. Parsing goes through
defusedxml: DTDs, entities and external references are refused, so an XML bomb never expands.
"""

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_TREE_CHARS = 256 * 1024
_FRAGMENT = '<BehaviorTree ID="MainTree">{xml}'
_DOCUMENT_STARTS = ("<root", "<?xml", "<!DOCTYPE", "<!--")


class InvalidBehaviorTree(ValueError):
    """The XML is not a usable behaviour tree; the message says why and where."""


def _parse(xml: str, *, shift: int = 0) -> Element:
    """Parse `xml`; `shift` characters of wrapper precede the user's text on line 1."""
    try:
        return fromstring(xml)  # type: ignore[no-any-return]
    except DefusedXmlException as err:
        raise InvalidBehaviorTree(
            f"behaviour tree XML may not use DTDs or entities ({err})"
        ) from err
    except ParseError as err:
        line, column = err.position
        column = max(column - shift, 0) if line == 1 else column
        reason = str(err).split(":")[0]
        raise InvalidBehaviorTree(
            f"malformed behaviour tree XML at line {line}, column {column + 1}: {reason}"
        ) from err


def check_behavior_tree(xml: str, *, tree_name: str) -> None:
    """Raise InvalidBehaviorTree unless `xml` is a v4 document or a MainTree fragment."""
    text = xml.strip()
    if text.startswith(_DOCUMENT_STARTS):
        root = _parse(text)
        _check_document(root, tree_name=tree_name)
        return
    wrapper = _FRAGMENT.split("{xml}", 1)[0]
    tree = _parse(wrapper + text + "</BehaviorTree>", shift=len(wrapper))
    if len(tree) == 0:
        raise InvalidBehaviorTree("the behaviour tree has no nodes")


def _check_document(root: Element, *, tree_name: str) -> None:
    if root.tag != "root":
        raise InvalidBehaviorTree(
            f"a behaviour tree document's root element is <root>, not <{root.tag}>"
        )
    version = root.get("BTCPP_format")
    if version is not None and version != "4":
        raise InvalidBehaviorTree(f'BTCPP_format="{version}" is not supported; use "4"')
    trees = [tree for tree in root if tree.tag == "BehaviorTree"]
    if not trees:
        raise InvalidBehaviorTree("the document has no <BehaviorTree>")
    ids = [tree.get("ID") for tree in trees]
    if tree_name not in ids:
        raise InvalidBehaviorTree(f'no <BehaviorTree ID="{tree_name}"> in the document (has {ids})')
    for tree in trees:
        if len(tree) == 0:
            raise InvalidBehaviorTree(f'<BehaviorTree ID="{tree.get("ID")}"> has no nodes')
