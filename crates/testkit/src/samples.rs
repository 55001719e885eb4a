//! Small, real files for attachment tests: a PDF, a PNG and a JPEG that pass the server's check
//! by content, a PDF of any size, and files that must be refused whatever their name.

use carebill_server::sniff::crc32;

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_be_bytes());
    c
}

/// A 1x1 grey PNG.
pub fn png() -> Vec<u8> {
    let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
    f.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    f.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    ));
    f.extend(png_chunk(b"IEND", &[]));
    f
}

/// A baseline JPEG's structure (2x3 pixels).
pub fn jpeg() -> Vec<u8> {
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

/// A one-page PDF with `text` on it.
pub fn pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer << /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A valid PDF of exactly `size` bytes (a comment pads it), for size limits.
pub fn pdf_of_size(size: usize) -> Vec<u8> {
    let head = b"%PDF-1.4\n%";
    let tail = b"\nxref\n0 1\n0000000000 65535 f \ntrailer << /Size 1 >>\nstartxref\n9\n%%EOF\n";
    assert!(size > head.len() + tail.len());
    let mut out = head.to_vec();
    out.resize(size - tail.len(), b'x');
    out.extend_from_slice(tail);
    out
}

/// A Windows program's first bytes.
pub fn program() -> Vec<u8> {
    let mut f = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    f.resize(512, 0);
    f
}

/// A web page.
pub fn html() -> Vec<u8> {
    b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec()
}

/// A ZIP archive's first bytes (a .docx, or a ZIP renamed .pdf).
pub fn zip() -> Vec<u8> {
    let mut f = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
    f.resize(256, 0);
    f
}
