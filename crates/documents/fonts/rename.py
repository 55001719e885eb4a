import sys
from fontTools.ttLib import TTFont
src, dst, weight = sys.argv[1:4]
f = TTFont(src)
name = f["name"]
family = "Carebill Sans"
ps = "CarebillSans-" + weight
for rec in list(name.names):
    if rec.nameID in (1, 16):
        rec.string = family
    elif rec.nameID == 4:
        rec.string = f"{family} {weight}" if weight != "Regular" else family
    elif rec.nameID == 6:
        rec.string = ps
    elif rec.nameID == 3:
        rec.string = f"Carebill: {ps}: 2.1.5 subset"
    elif rec.nameID == 5:
        rec.string = "Version 2.1.5; a subset of Liberation Sans 2.1.5 (Latin), without hinting"
    elif rec.nameID in (2, 17):
        rec.string = weight
for rec in name.names:
    if rec.nameID in (0, 13, 14):
        print(rec.nameID, str(rec)[:100])
f.save(dst)
