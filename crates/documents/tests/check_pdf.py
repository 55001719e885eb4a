"""Checks a PDF's structure with pypdf: tagged (MarkInfo /Marked, a structure tree), the
document language and title set and shown, US Letter pages, every font embedded.

Usage: python check_pdf.py FILE LANG   (prints "ok" or the problems, exit 1)
"""
import sys

from pypdf import PdfReader
from pypdf.generic import IndirectObject


def resolve(o):
    return o.get_object() if isinstance(o, IndirectObject) else o


def main(path, lang):
    problems = []
    reader = PdfReader(path)
    root = resolve(reader.trailer["/Root"])
    mark = resolve(root.get("/MarkInfo", {}))
    if not mark.get("/Marked"):
        problems.append("not tagged: /MarkInfo /Marked is not true")
    tree = resolve(root.get("/StructTreeRoot"))
    if tree is None or "/K" not in tree:
        problems.append("no structure tree")
    if root.get("/Lang") != lang:
        problems.append(f"document language {root.get('/Lang')!r}, expected {lang!r}")
    prefs = resolve(root.get("/ViewerPreferences", {}))
    if not prefs.get("/DisplayDocTitle"):
        problems.append("the title is not shown as the window title")
    if not (reader.metadata and reader.metadata.title):
        problems.append("no title")
    fonts = 0
    for number, page in enumerate(reader.pages, 1):
        box = [float(v) for v in page.mediabox]
        if box != [0.0, 0.0, 612.0, 792.0]:
            problems.append(f"page {number} is {box}, not US Letter")
        resources = resolve(page.get("/Resources", {}))
        for name, font in resolve(resources.get("/Font", {})).items():
            font = resolve(font)
            fonts += 1
            descriptors = [resolve(font.get("/FontDescriptor"))]
            for descendant in resolve(font.get("/DescendantFonts", [])):
                descriptors.append(resolve(resolve(descendant).get("/FontDescriptor")))
            if not any(d is not None and ("/FontFile2" in d or "/FontFile3" in d or "/FontFile" in d) for d in descriptors):
                problems.append(f"font {name} on page {number} is not embedded")
    if fonts == 0:
        problems.append("no fonts: the text is not real text")
    if problems:
        print("\n".join(problems))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
