//! Colours: a seeded palette from a set that reads well in a YouTube feed,
//! or one steered by a style, a colour word, the setting, or the dominant
//! colours of an inspiration image.

use image::DynamicImage;
use rand::Rng;

use crate::prompt::Setting;

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

    /// A palette around a colour named in the prompt.
    pub(crate) fn from_colour(named: [f32; 3]) -> Palette {
        let light = named.iter().sum::<f32>() > 600.0;
        Palette {
            from: if light {
                [40.0, 44.0, 60.0]
            } else {
                named.map(|c| c * 0.22)
            },
            to: named,
            accent: if named[0] > 200.0 && named[1] > 150.0 {
                [255.0, 255.0, 255.0]
            } else {
                rgb(0xffd60a)
            },
            glow: named.map(|c| c + (255.0 - c) * 0.5),
        }
    }

    pub(crate) fn from_setting(setting: Setting) -> Palette {
        let (from, to, accent, glow) = match setting {
            Setting::Space => (0x05021a, 0x3a0ca3, 0xffd60a, 0x7b2cbf),
            Setting::Beach => (0x0077b6, 0x48cae4, 0xffd60a, 0xfff3b0),
            Setting::Forest => (0x081c15, 0x40916c, 0xffea00, 0xb7e4c7),
            Setting::Desert => (0x7f4f24, 0xe9c46a, 0xffffff, 0xfff1c1),
            Setting::City => (0x0b0b2b, 0x7209b7, 0x4cc9f0, 0xf72585),
            Setting::Snow => (0x1d3557, 0xa8dadc, 0xffd60a, 0xf1faee),
            Setting::Fire => (0x200000, 0xd00000, 0xffd60a, 0xff8800),
            Setting::Office => (0x14213d, 0x4a6fa5, 0xfca311, 0xe5e5e5),
        };
        Palette {
            from: rgb(from),
            to: rgb(to),
            accent: rgb(accent),
            glow: rgb(glow),
        }
    }

    /// The dominant colours of an image: its darkest and most colourful
    /// regions on a coarse grid, with a bright accent against them.
    pub(crate) fn from_image(image: &DynamicImage) -> Palette {
        let cells = crate::normalize(image.clone(), 8, 8);
        let pixels: Vec<[f32; 3]> = cells.pixels().map(|p| p.0.map(f32::from)).collect();
        let luma = |c: &[f32; 3]| 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
        let chroma = |c: &[f32; 3]| {
            c.iter().copied().fold(0.0, f32::max) - c.iter().copied().fold(255.0, f32::min)
        };
        let darkest = pixels
            .iter()
            .min_by(|a, b| luma(a).total_cmp(&luma(b)))
            .copied()
            .unwrap_or([20.0; 3]);
        let vivid = pixels
            .iter()
            .max_by(|a, b| chroma(a).total_cmp(&chroma(b)))
            .copied()
            .unwrap_or([200.0, 40.0, 40.0]);
        let warm = vivid[0] > vivid[2];
        Palette {
            from: darkest.map(|c| c * 0.6),
            to: vivid,
            accent: if warm { rgb(0x4cc9f0) } else { rgb(0xffd60a) },
            glow: vivid.map(|c| c + (255.0 - c) * 0.4),
        }
    }
}
