//! QR codes drawn as filled rectangles, one per run of dark modules in a row,
//! so the code stays sharp at any zoom and needs no image support.

use printpdf::{Color, Greyscale, Op, PaintMode, Pt, Rect};
use qrcode::{Color as Module, EcLevel, QrCode};

use super::PrintError;

/// Drawing operations for the QR code of `data`, a square of `side` points
/// with its lower-left corner at (x, y), quiet zone included.
pub fn ops(data: &str, x: f32, y: f32, side: f32) -> Result<Vec<Op>, PrintError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| PrintError::Pdf(format!("QR code of {data:?}: {e}")))?;
    let width = code.width();
    let quiet = 2;
    let module = side / (width + 2 * quiet) as f32;
    let colors = code.to_colors();
    let mut ops = vec![Op::SetFillColor {
        col: Color::Greyscale(Greyscale::new(0.0, None)),
    }];
    for row in 0..width {
        let mut column = 0;
        while column < width {
            if colors[row * width + column] != Module::Dark {
                column += 1;
                continue;
            }
            let start = column;
            while column < width && colors[row * width + column] == Module::Dark {
                column += 1;
            }
            ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x + (quiet + start) as f32 * module),
                    y: Pt(y + side - (quiet + row + 1) as f32 * module),
                    width: Pt((column - start) as f32 * module),
                    height: Pt(module),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            });
        }
    }
    Ok(ops)
}
