/** The music the example serves, and how it recommends from recent listening. */

export interface Track {
  id: string;
  title: string;
  artist: string;
  genre: string;
  durationMs: number;
  /** Plays by everyone, for the cold-start list. */
  popularity: number;
}

const track = (
  id: string,
  title: string,
  artist: string,
  genre: string,
  minutes: number,
  popularity: number,
): Track => ({
  id,
  title,
  artist,
  genre,
  durationMs: Math.round(minutes * 60_000),
  popularity,
});

export const TRACKS: readonly Track[] = [
  track("trk_01", "Harbour Lights", "The Quiet Tides", "indie", 3.5, 920),
  track("trk_02", "Paper Planes at Dawn", "The Quiet Tides", "indie", 4.1, 610),
  track("trk_03", "Glasshouse", "Mira Vale", "indie", 3.2, 480),
  track("trk_04", "Blue Hour Swing", "Otto & the Late Trams", "jazz", 5.3, 350),
  track("trk_05", "Rain on Rue Oberkampf", "Otto & the Late Trams", "jazz", 6.0, 290),
  track("trk_06", "Minor Detour", "Lena Okafor Trio", "jazz", 4.7, 410),
  track("trk_07", "Circuit Bloom", "NEON ATLAS", "electronic", 3.9, 980),
  track("trk_08", "Afterimage", "NEON ATLAS", "electronic", 4.4, 720),
  track("trk_09", "Low Orbit", "Kesi", "electronic", 5.1, 530),
  track("trk_10", "Cello for Empty Rooms", "Ana Ruiz", "classical", 7.2, 260),
  track("trk_11", "Nocturne in Grey", "Ana Ruiz", "classical", 6.4, 200),
  track("trk_12", "Dust Road Hymn", "Cole Whitaker", "folk", 3.8, 440),
  track("trk_13", "Two Rivers", "Cole Whitaker", "folk", 4.0, 380),
  track("trk_14", "Kitchen Radio", "Juni & the Spoons", "folk", 2.9, 560),
];

export const trackById = new Map(TRACKS.map((t) => [t.id, t]));

/** What recommendations read: a play the gate stored (its minimized body), or a like from the app's own table. */
export interface Heard {
  kind: string;
  data: unknown;
}

export interface Recommendations {
  basedOn: "recent-listening" | "popular";
  tracks: Track[];
}

const SKIP_MS = 30_000;

/**
 * Scores genres and artists from recent plays and likes (a like counts more,
 * a skip counts against) and suggests tracks not heard in the window. With
 * nothing heard, e.g. no consent yet, everyone gets the popular tracks.
 */
/**
 * `popular`: track ids from the newest differentially private release,
 * most played first (gate.insights.latest), ahead of the editors' ranking;
 * empty until enough people share a track to pass the release's threshold.
 */
export function recommend(recent: readonly Heard[], count = 5, popular: readonly string[] = []): Recommendations {
  const genres = new Map<string, number>();
  const artists = new Map<string, number>();
  const heard = new Set<string>();
  for (const { kind, data } of recent) {
    const { itemId, durationMs } = (data ?? {}) as { itemId?: string; durationMs?: number };
    const t = itemId === undefined ? undefined : trackById.get(itemId);
    if (!t) continue;
    heard.add(t.id);
    const weight = kind === "like" ? 3 : durationMs !== undefined && durationMs < SKIP_MS ? -0.5 : 1;
    genres.set(t.genre, (genres.get(t.genre) ?? 0) + weight);
    artists.set(t.artist, (artists.get(t.artist) ?? 0) + weight);
  }
  const rank = new Map(popular.map((id, i) => [id, i]));
  const byPopularity = [...TRACKS].sort(
    (a, b) => (rank.get(a.id) ?? rank.size) - (rank.get(b.id) ?? rank.size) || b.popularity - a.popularity,
  );
  if (heard.size === 0) return { basedOn: "popular", tracks: byPopularity.slice(0, count) };
  const score = (t: Track) => (genres.get(t.genre) ?? 0) + 0.5 * (artists.get(t.artist) ?? 0);
  const fresh = byPopularity.filter((t) => !heard.has(t.id));
  const liked = fresh.filter((t) => score(t) > 0).sort((a, b) => score(b) - score(a));
  // Too little taste to fill the list: top it up with popular tracks, never with what they skip.
  const tracks = [...liked, ...fresh.filter((t) => score(t) === 0)].slice(0, count);
  return { basedOn: "recent-listening", tracks };
}
