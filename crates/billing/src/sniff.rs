//! What an uploaded file is, decided by its content, never by its name or declared type: a PDF,
//! a JPEG or a PNG, each checked by its magic bytes and a parse of its header and its end. The
//! server's upload route decides with it; the app checks a file with it before a message waits
//! in its outbox, so a file the server would refuse is refused at once, offline too.
//!
//! Refused, each with a stable code: an empty file, one over the size limit, a program (PE, ELF,
//! Mach-O, a script), a web page (HTML, SVG), a ZIP archive (an Office document too) whatever it
//! is called, anything else that is not one of the three, a file cut short (no end marker), and
//! one whose header does not parse. Pure: it imports nothing of the crate.

use std::fmt;

/// The kinds of file the billing office accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Jpeg,
    Png,
}

impl Kind {
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
        }
    }
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLarge {
        max_bytes: usize,
    },
    /// Not one of the accepted kinds; says what it looks like.
    NotAllowed {
        looks_like: &'static str,
    },
    /// An accepted kind cut short: its end marker is missing.
    Truncated {
        kind: Kind,
    },
    /// An accepted kind whose header does not parse.
    Malformed {
        kind: Kind,
        why: &'static str,
    },
}

impl Refusal {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Empty => "attachment_empty",
            Refusal::TooLarge { .. } => "attachment_too_large",
            Refusal::NotAllowed { .. } => "attachment_type_not_allowed",
            Refusal::Truncated { .. } => "attachment_truncated",
            Refusal::Malformed { .. } => "attachment_malformed",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Empty => write!(f, "The file is empty."),
            Refusal::TooLarge { max_bytes } => {
                write!(f, "The file is larger than {} MB.", max_bytes / (1024 * 1024))
            }
            Refusal::NotAllowed { looks_like } => {
                write!(f, "The file looks like {looks_like}. Attach a PDF, JPEG or PNG file.")
            }
            Refusal::Truncated { .. } => write!(f, "The file is incomplete. Save it again and attach it."),
            Refusal::Malformed { why, .. } => write!(f, "The file is damaged ({why}). Save it again and attach it."),
        }
    }
}

/// The kind of `bytes`, or why it is refused.
pub fn sniff(bytes: &[u8], max_bytes: usize) -> Result<Kind, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(Refusal::TooLarge { max_bytes });
    }
    if bytes.starts_with(b"%PDF-") {
        return pdf(bytes).map(|()| Kind::Pdf);
    }
    if bytes.starts_with(&PNG_SIGNATURE) {
        return png(bytes).map(|()| Kind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return jpeg(bytes).map(|()| Kind::Jpeg);
    }
    Err(Refusal::NotAllowed {
        looks_like: looks_like(bytes),
    })
}

/// What a refused file looks like, for the member's message.
fn looks_like(bytes: &[u8]) -> &'static str {
    const PROGRAMS: [&[u8]; 7] = [
        b"MZ",
        b"\x7fELF",
        &[0xFE, 0xED, 0xFA, 0xCE],
        &[0xFE, 0xED, 0xFA, 0xCF],
        &[0xCE, 0xFA, 0xED, 0xFE],
        &[0xCF, 0xFA, 0xED, 0xFE],
        &[0xCA, 0xFE, 0xBA, 0xBE],
    ];
    if PROGRAMS.iter().any(|m| bytes.starts_with(m)) || bytes.starts_with(b"#!") {
        return "a program";
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return "a ZIP archive";
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let head: Vec<u8> = text[start..].iter().take(64).map(u8::to_ascii_lowercase).collect();
    if [
        "<!doctype html",
        "<html",
        "<script",
        "<svg",
        "<?xml",
        "<head",
        "<body",
        "<iframe",
    ]
    .iter()
    .any(|t| head.starts_with(t.as_bytes()))
    {
        return "a web page";
    }
    "a file of another type"
}

fn pdf(bytes: &[u8]) -> Result<(), Refusal> {
    let malformed = |why| Refusal::Malformed { kind: Kind::Pdf, why };
    // "%PDF-1.x" or "%PDF-2.0".
    match bytes.get(5..8) {
        Some([major @ (b'1' | b'2'), b'.', minor]) if minor.is_ascii_digit() && (*major == b'1' || *minor == b'0') => {}
        _ => return Err(malformed("no PDF version")),
    }
    // The end: "%%EOF" within the last kilobyte, after a "startxref".
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let Some(eof) = find_last(tail, b"%%EOF") else {
        return Err(Refusal::Truncated { kind: Kind::Pdf });
    };
    if find_last(&tail[..eof], b"startxref").is_none() && find_last(bytes, b"startxref").is_none() {
        return Err(malformed("no cross-reference"));
    }
    Ok(())
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn png(bytes: &[u8]) -> Result<(), Refusal> {
    let malformed = |why| Refusal::Malformed { kind: Kind::Png, why };
    // The first chunk is IHDR: length 13, then width, height, bit depth, colour type,
    // compression, filter, interlace, and its CRC.
    let Some(ihdr) = bytes.get(8..33) else {
        return Err(Refusal::Truncated { kind: Kind::Png });
    };
    if ihdr[0..4] != [0, 0, 0, 13] || &ihdr[4..8] != b"IHDR" {
        return Err(malformed("no image header"));
    }
    if crc32(&ihdr[4..21]) != u32::from_be_bytes([ihdr[21], ihdr[22], ihdr[23], ihdr[24]]) {
        return Err(malformed("a damaged image header"));
    }
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    let (depth, colour) = (ihdr[16], ihdr[17]);
    let depth_ok = match colour {
        0 => [1, 2, 4, 8, 16].contains(&depth),
        3 => [1, 2, 4, 8].contains(&depth),
        2 | 4 | 6 => [8, 16].contains(&depth),
        _ => false,
    };
    if width == 0
        || height == 0
        || width > 30_000
        || height > 30_000
        || !depth_ok
        || ihdr[18..21] != [0, 0, ihdr[20]]
        || ihdr[20] > 1
    {
        return Err(malformed("an impossible image header"));
    }
    // The last chunk is IEND (length 0, "IEND", its fixed CRC).
    if !bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]) {
        return Err(Refusal::Truncated { kind: Kind::Png });
    }
    Ok(())
}

fn jpeg(bytes: &[u8]) -> Result<(), Refusal> {
    let malformed = |why| Refusal::Malformed { kind: Kind::Jpeg, why };
    // Walk the marker segments after SOI until a start-of-frame gives the image's size.
    let mut at = 2;
    let mut frame = false;
    while let Some(&[0xFF, marker]) = bytes.get(at..at + 2) {
        match marker {
            0xFF => {
                at += 1;
                continue;
            }
            0xD8 | 0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            0xD9 | 0xDA => break,
            _ => {}
        }
        let Some(&[hi, lo]) = bytes.get(at + 2..at + 4) else {
            return Err(Refusal::Truncated { kind: Kind::Jpeg });
        };
        let length = usize::from(u16::from_be_bytes([hi, lo]));
        if length < 2 {
            return Err(malformed("a damaged segment"));
        }
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let Some(sof) = bytes.get(at + 4..at + 9) else {
                return Err(Refusal::Truncated { kind: Kind::Jpeg });
            };
            let (height, width) = (
                u16::from_be_bytes([sof[1], sof[2]]),
                u16::from_be_bytes([sof[3], sof[4]]),
            );
            if width == 0 || height == 0 {
                return Err(malformed("an image of no size"));
            }
            frame = true;
        }
        at += 2 + length;
    }
    if !frame {
        return Err(malformed("no image frame"));
    }
    // The end: EOI, allowing the padding some cameras add.
    let end = bytes.len() - bytes.iter().rev().take_while(|b| **b == 0).count();
    if !bytes[..end].ends_with(&[0xFF, 0xD9]) {
        return Err(Refusal::Truncated { kind: Kind::Jpeg });
    }
    Ok(())
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// CRC-32 (IEEE), as PNG chunks carry it (test files are built with it too).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 10 * 1024 * 1024;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        c.extend_from_slice(&body);
        c.extend_from_slice(&crc32(&body).to_be_bytes());
        c
    }

    /// A real 1x1 grey PNG, built chunk by chunk.
    fn png_file() -> Vec<u8> {
        let mut f = PNG_SIGNATURE.to_vec();
        f.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        f.extend(chunk(
            b"IDAT",
            &[0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
        ));
        f.extend(chunk(b"IEND", &[]));
        f
    }

    /// A minimal baseline JPEG's structure: SOI, APP0, SOF0 (2x3 pixels), SOS, data, EOI.
    fn jpeg_file() -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        f.extend([
            0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
        ]);
        f.extend([0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x03, 0x00, 0x02, 1, 1, 0x11, 0]);
        f.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
        f.extend([0x12, 0x34, 0x56]);
        f.extend([0xFF, 0xD9]);
        f
    }

    fn pdf_file() -> Vec<u8> {
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nxref\n0 1\ntrailer << /Root 1 0 R >>\nstartxref\n9\n%%EOF\n"
            .to_vec()
    }

    #[test]
    fn the_three_kinds_are_known_by_content() {
        assert_eq!(sniff(&pdf_file(), MAX), Ok(Kind::Pdf));
        assert_eq!(sniff(&png_file(), MAX), Ok(Kind::Png));
        assert_eq!(sniff(&jpeg_file(), MAX), Ok(Kind::Jpeg));
        let mut padded = jpeg_file();
        padded.extend([0, 0, 0]);
        assert_eq!(sniff(&padded, MAX), Ok(Kind::Jpeg));
        assert_eq!(Kind::Pdf.media_type(), "application/pdf");
    }

    #[test]
    fn programs_web_pages_archives_and_others_are_refused_whatever_their_name() {
        let refused = |bytes: &[u8]| sniff(bytes, MAX).unwrap_err();
        for (bytes, looks_like) in [
            (&b"MZ\x90\x00\x03\x00\x00\x00"[..], "a program"),
            (b"\x7fELF\x02\x01\x01", "a program"),
            (&[0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1], "a program"),
            (b"#!/bin/sh\nrm -rf /\n", "a program"),
            (
                b"\xEF\xBB\xBF  <!DOCTYPE html><html><body>pay here</body></html>",
                "a web page",
            ),
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                "a web page",
            ),
            (
                b"PK\x03\x04\x14\x00\x06\x00 a .docx or a ZIP renamed .pdf",
                "a ZIP archive",
            ),
            (b"GIF89a\x01\x00\x01\x00", "a file of another type"),
        ] {
            let r = refused(bytes);
            assert_eq!(
                r,
                Refusal::NotAllowed { looks_like },
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            assert_eq!(r.code(), "attachment_type_not_allowed");
            assert!(r.to_string().contains("Attach a PDF, JPEG or PNG file"));
        }
    }

    #[test]
    fn empty_oversized_truncated_and_damaged_files_are_refused_with_their_own_codes() {
        assert_eq!(sniff(b"", MAX).unwrap_err().code(), "attachment_empty");
        let big = sniff(&pdf_file(), 10).unwrap_err();
        assert_eq!(
            (big.code(), big.to_string().as_str()),
            ("attachment_too_large", "The file is larger than 0 MB.")
        );
        assert_eq!(
            sniff(&vec![0u8; MAX + 1], MAX).unwrap_err(),
            Refusal::TooLarge { max_bytes: MAX }
        );
        // Cut short: each kind without its end.
        for (whole, kind) in [
            (pdf_file(), Kind::Pdf),
            (png_file(), Kind::Png),
            (jpeg_file(), Kind::Jpeg),
        ] {
            let cut = &whole[..whole.len() - 7];
            assert_eq!(sniff(cut, MAX), Err(Refusal::Truncated { kind }), "{kind:?}");
            assert_eq!(sniff(cut, MAX).unwrap_err().code(), "attachment_truncated");
        }
        assert_eq!(sniff(&PNG_SIGNATURE, MAX), Err(Refusal::Truncated { kind: Kind::Png }));
        // Damaged headers.
        let mut png = png_file();
        png[20] ^= 0xFF; // the height, under its CRC
        assert_eq!(sniff(&png, MAX).unwrap_err().code(), "attachment_malformed");
        let mut zero = png_file();
        zero[16..24].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        let body = zero[12..29].to_vec();
        zero[29..33].copy_from_slice(&crc32(&body).to_be_bytes());
        assert_eq!(
            sniff(&zero, MAX),
            Err(Refusal::Malformed {
                kind: Kind::Png,
                why: "an impossible image header"
            })
        );
        let mut jpeg = jpeg_file();
        jpeg[22..24].copy_from_slice(&[0, 0]); // SOF0's height
        jpeg[24..26].copy_from_slice(&[0, 0]); // and width
        assert_eq!(sniff(&jpeg, MAX).unwrap_err().code(), "attachment_malformed");
        assert_eq!(
            sniff(b"%PDF-9.9\n%%EOF", MAX),
            Err(Refusal::Malformed {
                kind: Kind::Pdf,
                why: "no PDF version"
            })
        );
        assert_eq!(
            sniff(b"%PDF-1.4\nno cross reference at all\n%%EOF", MAX)
                .unwrap_err()
                .code(),
            "attachment_malformed"
        );
    }

    #[test]
    fn the_crc_is_ieee() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
