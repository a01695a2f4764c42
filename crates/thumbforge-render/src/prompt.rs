//! Reading a prompt the way a thumbnail designer would: what the picture
//! shows (subjects, a face's emotion), what it says (a short headline), its
//! colours and setting, and the accent that draws the eye. Pure text
//! handling; the drawing is elsewhere.

/// What a prompt asks to be drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scene {
    /// Emoji for the main subjects, most important first (at most two).
    pub subjects: Vec<&'static str>,
    /// A colour named in the prompt for the whole picture.
    pub colour: Option<[f32; 3]>,
    /// A colour named for the accent ("a red arrow").
    pub accent_colour: Option<[f32; 3]>,
    pub setting: Option<Setting>,
    pub accent: Option<Accent>,
}

/// Where the picture is set, which steers the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    Space,
    Beach,
    Forest,
    Desert,
    City,
    Snow,
    Fire,
    Office,
}

/// What draws the eye to the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accent {
    Arrow,
    Circle,
    Burst,
}

/// Words that name a feeling, and the face that shows it.
const EMOTIONS: &[(&[&str], &str)] = &[
    (
        &[
            "shocked",
            "shock",
            "surprised",
            "stunned",
            "omg",
            "wow",
            "unbelievable",
        ],
        "😱",
    ),
    (
        &["scared", "afraid", "fear", "terrified", "horror", "scary"],
        "😨",
    ),
    (
        &["mindblown", "insane", "crazy", "mind-blown", "exploding"],
        "🤯",
    ),
    (&["laugh", "laughing", "funny", "lol", "hilarious"], "🤣"),
    (&["happy", "smile", "smiling", "joy", "excited"], "😄"),
    (&["angry", "rage", "mad", "furious", "annoyed"], "😡"),
    (&["sad", "cry", "crying", "tears", "heartbroken"], "😭"),
    (&["love", "loving", "adorable", "cute"], "😍"),
    (
        &["thinking", "confused", "wondering", "why", "mystery"],
        "🤔",
    ),
    (&["cool", "chill", "confident"], "😎"),
    (&["rich", "greedy", "profit"], "🤑"),
    (&["sick", "disgusting", "gross"], "🤢"),
];

/// Nouns the emoji names do not spell the way prompts do.
const SYNONYMS: &[(&[&str], &str)] = &[
    (&["burning", "flames", "fire", "hot", "lit"], "🔥"),
    (
        &["server", "servers", "rack", "datacenter", "desktop"],
        "🖥️",
    ),
    (&["laptop", "computer", "pc", "macbook"], "💻"),
    (
        &["phone", "iphone", "smartphone", "android", "mobile"],
        "📱",
    ),
    (
        &[
            "code",
            "coding",
            "programming",
            "developer",
            "programmer",
            "software",
        ],
        "👨‍💻",
    ),
    (&["rust", "rustacean"], "🦀"),
    (
        &[
            "money", "cash", "dollars", "dollar", "salary", "budget", "$",
        ],
        "💰",
    ),
    (&["travel", "trip", "flight", "plane", "vacation"], "✈️"),
    (&["cooking", "cook", "recipe", "kitchen", "chef"], "🍳"),
    (&["sourdough", "bread", "baking"], "🍞"),
    (&["gaming", "game", "games", "gamer", "controller"], "🎮"),
    (
        &["gym", "workout", "fitness", "muscle", "muscles", "strong"],
        "💪",
    ),
    (
        &["win", "winner", "winning", "champion", "trophy", "best"],
        "🏆",
    ),
    (&["launch", "rocket", "startup", "growth"], "🚀"),
    (&["idea", "ideas", "tip", "tips", "hack", "hacks"], "💡"),
    (&["warning", "danger", "never", "mistake", "mistakes"], "⚠️"),
    (&["explosion", "explode", "boom", "crash"], "💥"),
    (&["hours", "hour", "time", "clock", "deadline"], "⏰"),
    (&["days", "day", "calendar", "week", "year", "years"], "📅"),
    (&["music", "song", "songs", "guitar"], "🎸"),
    (&["ai", "robot", "robots", "chatgpt", "bot"], "🤖"),
    (&["brain", "smart", "genius", "iq"], "🧠"),
    (&["world", "earth", "global", "planet"], "🌍"),
    (&["japan", "tokyo"], "🗾"),
    (&["car", "cars", "driving"], "🚗"),
    (&["home", "house", "apartment"], "🏠"),
    (&["study", "learn", "learning", "school", "books"], "📚"),
    (&["secret", "secrets", "hidden"], "🤫"),
    (&["challenge", "100"], "💯"),
    (&["video", "youtube", "channel", "subscribe"], "▶️"),
    (&["vs", "versus"], "🆚"),
];

/// Short words that are also emoji shortcodes (🆕, 🔝, 🅰️) but never the
/// subject of a picture.
const NOT_SUBJECTS: &[&str] = &[
    "a",
    "b",
    "o",
    "m",
    "i",
    "id",
    "ok",
    "up",
    "new",
    "top",
    "free",
    "back",
    "end",
    "soon",
    "on",
    "sos",
    "ng",
    "cl",
    "abc",
    "x",
    "it",
    "in",
    "the",
    "one",
    "two",
    "ten",
    "face",
    "style",
    "close",
    "shot",
    "image",
    "photo",
    "picture",
    "thumbnail",
    "behind",
    "at",
    "with",
    "of",
];

const COLOURS: &[(&str, [f32; 3])] = &[
    ("red", [220.0, 30.0, 40.0]),
    ("blue", [30.0, 110.0, 235.0]),
    ("green", [40.0, 190.0, 80.0]),
    ("yellow", [255.0, 214.0, 10.0]),
    ("orange", [250.0, 130.0, 20.0]),
    ("purple", [140.0, 50.0, 210.0]),
    ("pink", [255.0, 80.0, 170.0]),
    ("gold", [240.0, 185.0, 40.0]),
    ("golden", [240.0, 185.0, 40.0]),
    ("teal", [20.0, 180.0, 170.0]),
    ("cyan", [0.0, 210.0, 230.0]),
    ("neon", [57.0, 255.0, 20.0]),
    ("black", [25.0, 25.0, 30.0]),
    ("white", [235.0, 235.0, 240.0]),
];

const SETTINGS: &[(&[&str], Setting)] = &[
    (
        &["space", "galaxy", "stars", "planet", "night", "moon"],
        Setting::Space,
    ),
    (
        &["beach", "ocean", "sea", "summer", "island", "underwater"],
        Setting::Beach,
    ),
    (
        &[
            "forest", "jungle", "nature", "camping", "garden", "mountain",
        ],
        Setting::Forest,
    ),
    (&["desert", "sand", "sahara"], Setting::Desert),
    (&["city", "street", "urban", "tokyo", "york"], Setting::City),
    (
        &["snow", "winter", "ice", "frozen", "christmas"],
        Setting::Snow,
    ),
    (
        &["burning", "fire", "hell", "lava", "volcano"],
        Setting::Fire,
    ),
    (
        &["office", "desk", "work", "meeting", "job"],
        Setting::Office,
    ),
];

const ACCENTS: &[(&[&str], Accent)] = &[
    (
        &["arrow", "pointing", "point", "points", "look", "this"],
        Accent::Arrow,
    ),
    (
        &["circle", "circled", "spot", "find", "hidden"],
        Accent::Circle,
    ),
    (
        &["explosion", "explode", "boom", "burst", "shocked", "insane"],
        Accent::Burst,
    ),
];

/// Function words before which a headline may be cut and keep whole
/// phrases (English, German, Spanish, French, Portuguese).
const PHRASE_STARTS: &[&str] = &[
    "with", "and", "for", "at", "in", "on", "of", "from", "to", "by", "about", "while", "but",
    "after", "before", "without", "mit", "und", "für", "nach", "bei", "von", "zum", "zur", "über",
    "ohne", "aber", "weil", "y", "con", "para", "en", "de", "por", "sin", "et", "avec", "pour",
    "dans", "sans", "e", "com", "sem",
];

/// Leads that describe the picture rather than say anything.
const DESCRIPTIVE_LEADS: &[&str] = &[
    "close-up of",
    "closeup of",
    "close up of",
    "photo of",
    "a photo of",
    "picture of",
    "a picture of",
    "image of",
    "an image of",
    "thumbnail of",
    "thumbnail for",
    "a thumbnail of",
    "a thumbnail for",
    "shot of",
];

const MAX_WORDS: usize = 9;

impl Scene {
    pub(crate) fn read(prompt: &str) -> Scene {
        let lower = prompt.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || ",.!?;:()[]\"“”«»".contains(c))
            .flat_map(|w| {
                // "mrbeast-style" reads as its parts too.
                std::iter::once(w).chain(w.split('-').filter(move |_| w.contains('-')))
            })
            .map(|w| w.trim_matches(|c: char| c == '\'' || c == '’'))
            .filter(|w| !w.is_empty())
            .collect();

        let mut subjects: Vec<&'static str> = Vec::new();
        let mut push = |emoji: &'static str| {
            if !subjects.contains(&emoji) {
                subjects.push(emoji);
            }
        };
        // Emoji the prompt already holds come first: the user chose them.
        for emoji in emoji_in(prompt) {
            push(emoji);
        }
        let face = words.iter().find_map(|w| lookup(EMOTIONS, w));
        if let Some(face) = face {
            push(face);
        } else if words.iter().any(|w| *w == "face" || *w == "reaction") {
            push("😮");
        }
        for word in &words {
            if let Some(emoji) = lookup(SYNONYMS, word).or_else(|| named_emoji(word)) {
                push(emoji);
            }
        }
        subjects.truncate(2);

        let mut colour = None;
        let mut accent_colour = None;
        for (i, word) in words.iter().enumerate() {
            let Some(&(_, rgb)) = COLOURS.iter().find(|(name, _)| name == word) else {
                continue;
            };
            let next = words.get(i + 1).copied().unwrap_or_default();
            let names_accent = ACCENTS
                .iter()
                .any(|(names, accent)| *accent != Accent::Burst && names.contains(&next));
            match (names_accent, colour, accent_colour) {
                (true, _, None) => accent_colour = Some(rgb),
                (false, None, _) => colour = Some(rgb),
                _ => {}
            }
        }
        let setting = words.iter().find_map(|w| lookup(SETTINGS, w));
        // An accent the prompt names ("arrow") beats one a mood implies.
        let accent = ACCENTS
            .iter()
            .find(|(names, _)| words.iter().any(|w| names.contains(w)))
            .map(|&(_, accent)| accent);
        Scene {
            subjects,
            colour,
            accent_colour,
            setting,
            accent,
        }
    }
}

fn lookup<T: Copy>(table: &[(&[&str], T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(words, _)| words.contains(&word))
        .map(|&(_, value)| value)
}

/// An emoji whose shortcode is this word (or its singular): `cat`, `pizza`,
/// `trophy`. Symbols and flags are left out: they spell words (🆕, 🔝), not
/// things.
fn named_emoji(word: &str) -> Option<&'static str> {
    if word.len() < 3 || NOT_SUBJECTS.contains(&word) || !word.is_ascii() {
        return None;
    }
    let singular = word
        .strip_suffix("es")
        .filter(|s| s.ends_with(['s', 'x', 'h']))
        .or_else(|| word.strip_suffix('s'));
    [Some(word), singular]
        .into_iter()
        .flatten()
        .find_map(emojis::get_by_shortcode)
        .filter(|e| !matches!(e.group(), emojis::Group::Symbols | emojis::Group::Flags))
        .and_then(|e| asset(e.as_str()))
        .map(|a| a.emoji)
}

/// Twemoji's picture for an emoji, with or without its variation selector.
pub(crate) fn asset(emoji: &str) -> Option<&'static twemoji_assets::svg::SvgTwemojiAsset> {
    use twemoji_assets::svg::SvgTwemojiAsset;
    SvgTwemojiAsset::from_emoji(emoji)
        .or_else(|| SvgTwemojiAsset::from_emoji(&format!("{emoji}\u{fe0f}")))
        .or_else(|| SvgTwemojiAsset::from_emoji(&emoji.replace('\u{fe0f}', "")))
}

fn drawable(emoji: &str) -> bool {
    asset(emoji).is_some()
}

/// The emoji in a text that Twemoji draws, in order, each once.
pub(crate) fn emoji_in(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (start, end) in emoji_spans(text) {
        if let Some(asset) = asset(&text[start..end])
            && !found.contains(&asset.emoji)
        {
            found.push(asset.emoji);
        }
    }
    found
}

/// The text without its emoji, with spaces tidied.
pub(crate) fn without_emoji(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in emoji_spans(text) {
        out.push_str(&text[at..start]);
        out.push(' ');
        at = end;
    }
    out.push_str(&text[at..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte ranges of emoji clusters: a pictograph with its variation
/// selectors, skin tones and zero-width-joined parts, or a flag's pair of
/// regional indicators.
fn emoji_spans(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let regional = |c: char| ('\u{1f1e6}'..='\u{1f1ff}').contains(&c);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let presented = chars.get(i + 1).is_some_and(|&(_, n)| n == '\u{fe0f}');
        // A keycap: a digit, `#` or `*`, maybe U+FE0F, then U+20E3.
        let keycap_at = if presented { i + 2 } else { i + 1 };
        if matches!(c, '0'..='9' | '#' | '*')
            && chars.get(keycap_at).is_some_and(|&(_, n)| n == '\u{20e3}')
        {
            spans.push((byte(i), byte(keycap_at + 1)));
            i = keycap_at + 1;
            continue;
        }
        let emoji = is_pictograph(c)
            && (u32::from(c) >= 0x1F000 || presented || EMOJI_DEFAULT.contains(&c));
        if !emoji {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while let Some(&(_, n)) = chars.get(j) {
            if n == '\u{200d}' && chars.get(j + 1).is_some_and(|&(_, p)| is_pictograph(p)) {
                j += 2;
            } else if n == '\u{fe0f}'
                || ('\u{1f3fb}'..='\u{1f3ff}').contains(&n)
                || (regional(c) && regional(n) && j == i + 1)
            {
                j += 1;
            } else {
                break;
            }
        }
        // The longest part Twemoji knows; an unknown cluster is dropped whole.
        let end = (i + 1..=j)
            .rev()
            .find(|&k| drawable(&text[byte(i)..byte(k)]))
            .unwrap_or(j);
        spans.push((byte(i), byte(end)));
        i = end;
    }
    spans
}

fn is_pictograph(c: char) -> bool {
    matches!(u32::from(c), 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF)
}

/// Pictographs below U+1F000 that are emoji even without U+FE0F.
const EMOJI_DEFAULT: &[char] = &[
    '☕', '⚡', '⛔', '✅', '❌', '⭐', '⚽', '⌛', '⏰', '⏳', '✨', '❓', '❗', '⛄', '⚾',
];

/// The headline a prompt implies: quoted text if there is any, otherwise
/// its first clause without a picture description ("close-up of"), at most
/// nine words, cut only where a phrase ends.
pub fn headline_from_prompt(prompt: &str) -> String {
    if let Some(quoted) = quoted(prompt) {
        return quoted;
    }
    let text = without_emoji(prompt);
    let clause = text
        .split(CLAUSE_ENDS)
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let clause = DESCRIPTIVE_LEADS
        .iter()
        .find(|lead| {
            clause
                .get(..lead.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(lead))
        })
        .map_or(clause, |lead| clause[lead.len()..].trim_start());
    shorten(clause)
}

/// Where a clause ends, in Latin and CJK punctuation.
const CLAUSE_ENDS: &[char] = &[
    '.', '!', '?', ',', ';', ':', '\n', '—', '–', '|', '。', '、', '！', '？', '，', '；', '：',
];

/// Characters kept of a headline written without spaces (Chinese,
/// Japanese, Thai), where words cannot be counted.
const MAX_UNSPACED_CHARS: usize = 24;

/// At most nine words, cut before the last phrase that starts within the
/// limit; a text without spaces keeps its first clause, at most 24
/// characters. Titles too: a 500-character title cannot be drawn legibly.
pub(crate) fn shorten(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() == 1 && words[0].chars().count() > MAX_UNSPACED_CHARS {
        let first = words[0]
            .split(CLAUSE_ENDS)
            .find(|s| !s.is_empty())
            .unwrap_or(words[0]);
        return first.chars().take(MAX_UNSPACED_CHARS).collect();
    }
    if words.len() <= MAX_WORDS {
        return words.join(" ");
    }
    let cut = (3..=MAX_WORDS)
        .rev()
        .find(|&i| PHRASE_STARTS.contains(&words[i].to_lowercase().as_str()))
        .unwrap_or(MAX_WORDS);
    words[..cut].join(" ")
}

/// Text between quotes, where an apostrophe inside a word (`can't`) is not
/// a quote.
fn quoted(prompt: &str) -> Option<String> {
    for (open, close) in [
        ('"', '"'),
        ('“', '”'),
        ('«', '»'),
        ('„', '“'),
        ('\'', '\''),
        ('‘', '’'),
    ] {
        let mut from = 0;
        while let Some(offset) = prompt[from..].find(open) {
            let start = from + offset;
            let before_ok = prompt[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let inner_start = start + open.len_utf8();
            from = inner_start;
            if !before_ok {
                continue;
            }
            let rest = &prompt[inner_start..];
            let mut search = 0;
            while let Some(end) = rest[search..].find(close) {
                let end = search + end;
                let after_ok = rest[end + close.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
                if after_ok {
                    let inner = rest[..end].trim();
                    if !inner.is_empty() {
                        return Some(inner.to_owned());
                    }
                    break;
                }
                search = end + close.len_utf8();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_wins_and_apostrophes_are_not_quotes() {
        assert_eq!(
            headline_from_prompt("a man shouting \"I QUIT\" at a desk"),
            "I QUIT"
        );
        assert_eq!(
            headline_from_prompt("I can't believe it's not butter"),
            "I can't believe it's not butter"
        );
        assert_eq!(headline_from_prompt("she said 'no way' twice"), "no way");
    }

    #[test]
    fn first_clause_without_a_picture_description() {
        assert_eq!(
            headline_from_prompt("Rust in 100 seconds. Dark theme"),
            "Rust in 100 seconds"
        );
        assert_eq!(
            headline_from_prompt("Close-up of a shocked face, red arrow"),
            "a shocked face"
        );
    }

    #[test]
    fn unspaced_scripts_end_at_their_own_punctuation() {
        assert_eq!(
            headline_from_prompt("東京で一番おいしいラーメン、探してみた。次回もお楽しみに"),
            "東京で一番おいしいラーメン"
        );
        let long = "東京で一番おいしいラーメンを探してみたら意外な結果になった話をします";
        assert_eq!(
            headline_from_prompt(long).chars().count(),
            MAX_UNSPACED_CHARS
        );
        // A long title is cut like a prompt.
        assert_eq!(
            shorten(&"word ".repeat(100)).split_whitespace().count(),
            MAX_WORDS
        );
        // A lead in another case still goes; a multi-byte start is safe.
        assert_eq!(headline_from_prompt("PHOTO OF a cat"), "a cat");
        assert_eq!(headline_from_prompt("İmage of a cat"), "İmage of a cat");
    }

    #[test]
    fn long_headlines_are_cut_where_a_phrase_ends() {
        // Ten words: cut before "mit", not after the ninth word.
        assert_eq!(
            headline_from_prompt("Warum ich nach zehn Jahren im Job mit dem Programmieren aufhöre"),
            "Warum ich nach zehn Jahren im Job"
        );
        assert_eq!(
            headline_from_prompt("one two three four five six seven eight nine ten eleven"),
            "one two three four five six seven eight nine"
        );
    }

    #[test]
    fn a_descriptive_prompt_gives_subjects_colours_and_an_accent() {
        let scene = Scene::read(
            "Close-up of MrBeast-style shocked face, red arrow pointing at a laptop with a burning server rack behind",
        );
        assert_eq!(scene.subjects, vec!["😱", "💻"]);
        assert_eq!(scene.accent, Some(Accent::Arrow));
        assert_eq!(scene.accent_colour, Some([220.0, 30.0, 40.0]));
        assert_eq!(scene.colour, None);
        assert_eq!(scene.setting, Some(Setting::Fire));
    }

    #[test]
    fn emoji_in_the_prompt_are_subjects_and_leave_the_headline() {
        let scene = Scene::read("🔥🔥 HOT TAKE 🔥 about pizza");
        assert_eq!(scene.subjects, vec!["🔥", "🍕"]);
        assert_eq!(without_emoji("🔥🔥 HOT TAKE 🔥"), "HOT TAKE");
        assert_eq!(emoji_in("👍🏽 and ❤️ and 👨‍💻"), vec!["👍🏽", "❤", "👨‍💻"]);
        assert_eq!(emoji_in("top 1️⃣ and #⃣"), vec!["1\u{20e3}", "#\u{20e3}"]);
        assert_eq!(without_emoji("top 1️⃣ pick"), "top pick");
        // Symbols a font draws are text, not emoji.
        assert_eq!(without_emoji("5 ★ review ✓"), "5 ★ review ✓");
    }

    #[test]
    fn shortcodes_name_subjects_but_symbol_words_do_not() {
        assert_eq!(Scene::read("my cats").subjects, vec!["🐱"]);
        assert!(Scene::read("the new top free one").subjects.is_empty());
        assert_eq!(
            Scene::read("a blue night").colour,
            Some([30.0, 110.0, 235.0])
        );
        assert_eq!(Scene::read("a blue night").setting, Some(Setting::Space));
    }
}
