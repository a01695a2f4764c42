//! Backgrounds: a seeded composition of gradient, sunburst rays, a glow and
//! soft circles, or a reference photo cover-cropped and darkened.

use image::{DynamicImage, Rgb, RgbImage};
use rand::Rng;

use crate::{lerp_rgb, normalize};

/// Two background colours, the headline's accent and the glow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    pub from: [f32; 3],
    pub to: [f32; 3],
    pub accent: [f32; 3],
    pub glow: [f32; 3],
}

const fn rgb(hex: u32) -> [f32; 3] {
    [
        ((hex >> 16) & 0xff) as f32,
        ((hex >> 8) & 0xff) as f32,
        (hex & 0xff) as f32,
    ]
}

/// High-contrast pairs in the style that reads well in a YouTube feed.
const PALETTES: [Palette; 8] = [
    Palette {
        from: rgb(0x1a0533),
        to: rgb(0xb5179e),
        accent: rgb(0xffd60a),
        glow: rgb(0xff4d9d),
    },
    Palette {
        from: rgb(0x03045e),
        to: rgb(0x0096c7),
        accent: rgb(0xffd60a),
        glow: rgb(0x90e0ef),
    },
    Palette {
        from: rgb(0x370617),
        to: rgb(0xe85d04),
        accent: rgb(0xffea00),
        glow: rgb(0xffba08),
    },
    Palette {
        from: rgb(0x081c15),
        to: rgb(0x2d6a4f),
        accent: rgb(0xb7ff3c),
        glow: rgb(0x95d5b2),
    },
    Palette {
        from: rgb(0x0b0b0f),
        to: rgb(0xc1121f),
        accent: rgb(0xffffff),
        glow: rgb(0xff595e),
    },
    Palette {
        from: rgb(0x10002b),
        to: rgb(0x3c096c),
        accent: rgb(0x00f5d4),
        glow: rgb(0x9d4edd),
    },
    Palette {
        from: rgb(0x1b263b),
        to: rgb(0xf77f00),
        accent: rgb(0xfcbf49),
        glow: rgb(0xfcbf49),
    },
    Palette {
        from: rgb(0x011627),
        to: rgb(0x2ec4b6),
        accent: rgb(0xff9f1c),
        glow: rgb(0xcbf3f0),
    },
];

impl Palette {
    pub(crate) fn from_style(style: &crate::Style) -> Palette {
        let f = |c: [u8; 3]| [f32::from(c[0]), f32::from(c[1]), f32::from(c[2])];
        let to = f(style.background_to);
        let accent = f(style.accent);
        Palette {
            from: f(style.background_from),
            to,
            accent,
            glow: [
                (to[0] + accent[0]) / 2.0,
                (to[1] + accent[1]) / 2.0,
                (to[2] + accent[2]) / 2.0,
            ],
        }
    }

    pub(crate) fn pick(rng: &mut impl Rng, variation: u32) -> Palette {
        // Offset by the variation so that the four thumbnails of one
        // generation never share a palette.
        let base = rng.random_range(0..PALETTES.len());
        PALETTES[(base + variation as usize * 3) % PALETTES.len()]
    }
}

struct Circle {
    x: f32,
    y: f32,
    r: f32,
    alpha: f32,
}

pub(crate) fn generate(width: u32, height: u32, palette: &Palette, rng: &mut impl Rng) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (gx, gy) = (angle.cos(), angle.sin());
    let focus_x = w * rng.random_range(0.55..0.85);
    let focus_y = h * rng.random_range(0.25..0.6);
    let rays = rng.random_range(10..18) as f32;
    let twist: f32 = rng.random_range(0.0..1.0);
    let glow_r = h * rng.random_range(0.35..0.55);
    let circles: Vec<Circle> = (0..rng.random_range(5..9))
        .map(|_| Circle {
            x: w * rng.random_range(0.0..1.0),
            y: h * rng.random_range(0.0..1.0),
            r: h * rng.random_range(0.05..0.22),
            alpha: rng.random_range(0.06..0.16),
        })
        .collect();
    let diag = (w * w + h * h).sqrt();

    RgbImage::from_fn(width, height, |x, y| {
        let (px, py) = (x as f32, y as f32);
        // Linear gradient along the seeded angle.
        let t = (((px - w / 2.0) * gx + (py - h / 2.0) * gy) / diag + 0.5).clamp(0.0, 1.0);
        let mut c = std::array::from_fn::<f32, 3, _>(|i| {
            palette.from[i] + (palette.to[i] - palette.from[i]) * t
        });
        // Sunburst rays around the focus.
        let (dx, dy) = (px - focus_x, py - focus_y);
        let theta = dy.atan2(dx) / std::f32::consts::TAU + 0.5;
        let ray = ((theta * rays + twist).fract() < 0.5) as u8 as f32;
        let dist = (dx * dx + dy * dy).sqrt();
        let ray_strength = 0.10 * (1.0 - (dist / diag).min(1.0));
        for ch in &mut c {
            *ch += (255.0 - *ch) * ray * ray_strength;
        }
        // Glow at the focus.
        let glow = (-(dist * dist) / (glow_r * glow_r)).exp() * 0.55;
        for (i, ch) in c.iter_mut().enumerate() {
            *ch += (palette.glow[i] - *ch) * glow;
        }
        // Soft circles.
        for circle in &circles {
            let d = ((px - circle.x).powi(2) + (py - circle.y).powi(2)).sqrt();
            let edge = ((circle.r - d) / (circle.r * 0.15)).clamp(0.0, 1.0);
            if edge > 0.0 {
                for ch in &mut c {
                    *ch += (255.0 - *ch) * circle.alpha * edge;
                }
            }
        }
        // Vignette keeps the edges dark, so the centre and the text pop.
        let vx = (px / w - 0.5) * 2.0;
        let vy = (py / h - 0.5) * 2.0;
        let vignette = 1.0 - 0.35 * ((vx * vx + vy * vy) / 2.0);
        Rgb(c.map(|ch| (ch * vignette).clamp(0.0, 255.0) as u8))
    })
}

pub(crate) fn from_reference(reference: &DynamicImage, width: u32, height: u32) -> RgbImage {
    let mut img = normalize(reference.clone(), width, height);
    let h = height as f32;
    for (_, y, p) in img.enumerate_pixels_mut() {
        // Darker towards the bottom, where text and YouTube's timestamp sit.
        let shade = 0.45 + 0.2 * (y as f32 / h);
        *p = lerp_rgb(*p, [0.0, 0.0, 0.0], shade);
    }
    img
}
