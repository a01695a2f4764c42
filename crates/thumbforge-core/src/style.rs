//! Style presets (Flokan's `style_id`): a palette and a headline treatment
//! the local renderer draws, and remote models get described in the prompt.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A validated style, as stored (JSON) and as clients send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StyleSpec {
    pub name: String,
    /// The background gradient, two `#rrggbb` colours.
    pub background_colors: [String; 2],
    /// The emphasised word's colour, `#rrggbb`.
    pub accent_color: String,
    /// The headline in capitals (default) or as written.
    #[serde(default = "yes")]
    pub uppercase: bool,
    /// `thick` (default), `thin` or `none`.
    #[serde(default = "thick")]
    pub outline: String,
}

fn yes() -> bool {
    true
}

fn thick() -> String {
    "thick".to_owned()
}

/// `#rrggbb` as bytes.
pub fn parse_hex(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let n = u32::from_str_radix(hex, 16).ok()?;
    Some([(n >> 16) as u8, (n >> 8) as u8, n as u8])
}

impl StyleSpec {
    /// Checks names, colours and the outline; normalises colours to lower case.
    pub fn validate(mut self) -> Result<StyleSpec, ValidationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ValidationError::InvalidStyle(
                "name must be 1 to 100 characters".to_owned(),
            ));
        }
        self.name = name;
        for color in self
            .background_colors
            .iter_mut()
            .chain(std::iter::once(&mut self.accent_color))
        {
            if parse_hex(color).is_none() {
                return Err(ValidationError::InvalidStyle(format!(
                    "`{color}` is not a #rrggbb colour"
                )));
            }
            *color = color.to_ascii_lowercase();
        }
        if !["thick", "thin", "none"].contains(&self.outline.as_str()) {
            return Err(ValidationError::InvalidStyle(
                "outline must be thick, thin or none".to_owned(),
            ));
        }
        Ok(self)
    }

    /// How a remote model is told about the style.
    pub fn describe(&self) -> String {
        format!(
            "Style: background gradient from {} to {}, accent colour {}, headline {} with {} outline.",
            self.background_colors[0],
            self.background_colors[1],
            self.accent_color,
            if self.uppercase {
                "in capitals"
            } else {
                "in normal case"
            },
            match self.outline.as_str() {
                "none" => "no",
                other => other,
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_validate_colours_and_outline() {
        let ok = StyleSpec {
            name: " Neon ".into(),
            background_colors: ["#1A0533".into(), "#b5179e".into()],
            accent_color: "#ffd60a".into(),
            uppercase: true,
            outline: "thin".into(),
        }
        .validate()
        .expect("valid");
        assert_eq!(ok.name, "Neon");
        assert_eq!(ok.background_colors[0], "#1a0533");
        assert_eq!(parse_hex("#ff0080"), Some([255, 0, 128]));
        let bad = StyleSpec {
            accent_color: "yellow".into(),
            ..ok.clone()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.code().as_str()),
            Err("invalid_style")
        );
        let bad = StyleSpec {
            outline: "bold".into(),
            ..ok
        };
        assert!(bad.validate().is_err());
    }
}
