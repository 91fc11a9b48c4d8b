"""The waveform -> log-mel port (``ltx_core.model.audio_vae.mel``) against the documented definitions
computed independently here in float64 (a textbook DFT sum, the Slaney mel formulas, triangles from
their corner frequencies), against textbook values, and the resampler against exact band-limited
signals. Reading audio files (``ltx_core.media.audio_read``): exact samples, cuts and bad input."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest

from ltx_core.media.audio_read import probe_audio, read_audio_clip
from ltx_core.media.errors import MediaReadError
from ltx_core.media.ffmpeg import ffmpeg_exe
from ltx_core.model.audio_vae.mel import hz_to_mel, log_mel, mel_filterbank, mel_to_hz, resample, stft_magnitude
from tests.parity import check_absolute, check_parity

RATE, N_FFT, HOP, MELS = 16000, 1024, 160, 64  # the audio VAE config of every released version


def textbook_mel(hz: float) -> float:
    """Slaney (Auditory Toolbox): 3 mels per 200 Hz up to 1 kHz, then 27 mels per factor 6.4."""
    return 3 * hz / 200 if hz < 1000 else 15 + 27 * np.log(hz / 1000) / np.log(6.4)


def test_slaney_mel_scale_textbook_values() -> None:
    assert float(hz_to_mel(1000.0)) == pytest.approx(15.0, abs=1e-12)
    assert float(hz_to_mel(200.0)) == pytest.approx(3.0, abs=1e-12)
    assert float(hz_to_mel(6400.0)) == pytest.approx(42.0, abs=1e-12)  # 27 mels above 1 kHz per x6.4
    hz = np.array([0.0, 50.0, 999.0, 1000.0, 1500.0, 4000.0, 8000.0])
    check_absolute("mel/slaney_scale", hz_to_mel(hz), [textbook_mel(f) for f in hz], 1e-12)
    check_absolute("mel/slaney_inverse", mel_to_hz(hz_to_mel(hz)), hz, 1e-9)


def reference_filterbank() -> np.ndarray:
    """Each filter from its three corner frequencies, bin by bin, area-normalised (2 / width)."""
    corners = [float(mel_to_hz(m)) for m in np.linspace(0, textbook_mel(RATE / 2), MELS + 2)]
    bins = [k * (RATE / 2) / (N_FFT // 2) for k in range(N_FFT // 2 + 1)]
    bank = np.zeros((len(bins), MELS))
    for m in range(MELS):
        lo, mid, hi = corners[m : m + 3]
        for k, f in enumerate(bins):
            if lo <= f <= mid:
                bank[k, m] = (f - lo) / (mid - lo)
            elif mid < f <= hi:
                bank[k, m] = (hi - f) / (hi - mid)
        bank[:, m] *= 2 / (hi - lo)
    return bank


def test_filterbank_against_its_definition() -> None:
    ours = mel_filterbank(RATE, N_FFT, MELS)
    assert ours.shape == (N_FFT // 2 + 1, MELS)
    check_parity("mel/filterbank", ours, reference_filterbank(), 1e-12)
    # Peaks rise with the filter index; a unit-area triangle of width w peaks at 2 / w.
    peaks = ours.argmax(axis=0)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]
    edges = mel_to_hz(np.linspace(0, hz_to_mel(RATE / 2), MELS + 2))
    np.testing.assert_array_less(ours.max(axis=0), 2 / (edges[2:] - edges[:-2]) + 1e-15)
    assert ours[0].sum() == 0.0 and ours[-1, -1] == 0.0  # 0 Hz and Nyquist sit on the outer corners


def textbook_stft(signal: np.ndarray) -> np.ndarray:
    """|X[m, k]| = |sum_n w[n] x[m * hop + n - n_fft / 2] e^{-2 pi i k n / n_fft}|, x mirrored at its ends."""
    n = np.arange(N_FFT)
    window = np.sin(np.pi * n / N_FFT) ** 2  # periodic Hann written as sin^2
    basis = np.exp(-2j * np.pi * np.outer(np.arange(N_FFT // 2 + 1), n) / N_FFT)

    def sample(i: int) -> float:
        last = len(signal) - 1
        i = -i if i < 0 else i
        return signal[2 * last - i] if i > last else signal[i]

    rows = []
    for m in range(1 + len(signal) // HOP):
        frame = np.array([sample(m * HOP + j - N_FFT // 2) for j in n])
        rows.append(np.abs(basis @ (window * frame)))
    return np.array(rows)


def test_stft_and_log_mel_against_textbook_dft() -> None:
    rng = np.random.default_rng(0)
    signal = rng.uniform(-1, 1, 3 * HOP + 37)
    check_parity("mel/stft_magnitude", stft_magnitude(signal, N_FFT, HOP), textbook_stft(signal), 1e-12)
    stereo = np.stack([signal, 0.25 * signal[::-1]])
    ours = log_mel(stereo, RATE, N_FFT, HOP, MELS)
    assert ours.dtype == np.float32 and ours.shape == (2, 1 + len(signal) // HOP, MELS)
    ref = np.log(np.maximum(textbook_stft(stereo[1]) @ reference_filterbank(), 1e-5))
    check_parity("mel/log_mel", ours[1], ref, 1e-6)
    silence = log_mel(np.zeros((1, 2000)), RATE, N_FFT, HOP, MELS)
    assert np.all(silence == np.float32(np.log(1e-5)))  # the clamp


@pytest.mark.parametrize("source", [44100, 48000, 22050, 8000])
def test_resample_band_limited_sine(source: int) -> None:
    seconds, hz = 0.5, 440.0
    t_in = np.arange(int(seconds * source)) / source
    ours = resample(np.sin(2 * np.pi * hz * t_in)[None], source, RATE)[0]
    assert len(ours) == -(-len(t_in) * RATE // source)
    t_out = np.arange(len(ours)) / RATE
    interior = (t_out > 0.02) & (t_out < seconds - 0.02)  # away from the zero-padded ends
    error = np.abs(ours - np.sin(2 * np.pi * hz * t_out))[interior].max()
    print(f"PARITY mel/resample_{source}_sine {error:.3e} (absolute)")
    assert error < 2e-3
    # Above the new Nyquist frequency a tone is filtered out (downsampling only).
    if source > RATE:
        alias = resample(np.sin(2 * np.pi * 12000.0 * t_in)[None], source, RATE)[0]
        assert np.abs(alias[interior]).max() < 5e-3


def _write_wav(path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())


def test_read_audio_clip_exact_samples_and_cuts(tmp_path) -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32767, size=(22050, 2), dtype=np.int16)
    path = tmp_path / "noise.wav"
    _write_wav(path, pcm, 22050)
    clip = read_audio_clip(path)
    assert clip.sample_rate == 22050 and clip.waveform.shape == (2, 22050)
    np.testing.assert_array_equal(clip.pcm16(), pcm)  # a 16-bit source comes back exactly
    np.testing.assert_array_equal(clip.waveform, pcm.T / np.float32(32768))
    cut = read_audio_clip(path, start=0.25, max_seconds=0.5)
    np.testing.assert_array_equal(cut.pcm16(), pcm[round(0.25 * 22050) : round(0.25 * 22050) + round(0.5 * 22050)])
    mono = tmp_path / "mono.wav"
    _write_wav(mono, pcm[:, :1], 22050)
    assert read_audio_clip(mono).waveform.shape == (1, 22050)


def test_read_audio_from_mp3_and_video(tmp_path) -> None:
    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    _write_wav(wav, (np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)[:, None].repeat(2, 1), 16000)
    mp3, video = tmp_path / "tone.mp3", tmp_path / "tone.mp4"
    for args in (["-i", str(wav), "-c:a", "libmp3lame", str(mp3)],
                 ["-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-i", str(wav), "-shortest", "-c:v", "libx264",
                  "-c:a", "aac", str(video)]):  # fmt: skip
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
    for path in (mp3, video):
        clip = read_audio_clip(path, start=0.2, max_seconds=0.5)
        assert clip.waveform.shape == (2, 8000) and clip.sample_rate == 16000
        assert 0.3 < np.abs(clip.waveform).max() < 0.7
    assert probe_audio(video).codec == "aac"


def test_bad_audio_inputs_are_one_sentence(tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    silent = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=black:s=64x64:d=1", "-c:v", "libx264", str(silent)], check=True)  # fmt: skip
    for path in (text, silent):
        with pytest.raises(MediaReadError, match="has no audio stream: give a wav"):
            read_audio_clip(path)
    wav = tmp_path / "short.wav"
    _write_wav(wav, np.zeros((8000, 1), np.int16), 16000)
    with pytest.raises(MediaReadError, match=r"is 0.50 s long: the start 2 s is past its end"):
        read_audio_clip(wav, start=2.0)
    with pytest.raises(MediaReadError, match="no such file"):
        read_audio_clip(tmp_path / "missing.wav")
