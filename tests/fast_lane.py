"""The fast lane: ``python -m pytest -m "not slow" -q`` for everyday work; CI runs everything.

Tests marked ``@pytest.mark.slow`` in their own files (the demo, Spark, DDP, browsers, minutes of
training) are left out, and so are the tests named here: each took 1.5 s of CPU or more in a run
of the whole suite on 2 cores (``pytest --durations`` with per-test CPU time). Most train a small
run, start a subprocess or decode a dataset; the fast lane keeps a cheaper test of the same code.
A name that no longer exists is simply not marked.
"""
from __future__ import annotations

import pytest

#: node ids (``file::test`` or ``file::test[param]``) → CPU seconds measured
SLOW = {
    "tests/test_app.py::test_overview_lists_the_run": 5.5,
    "tests/test_cache.py::test_cli_prepare": 2.1,
    "tests/test_cache.py::test_dead_worker_is_a_dataerror_and_parallel_resume_works": 1.8,
    "tests/test_cache.py::test_grey_and_parallel": 1.9,
    "tests/test_cli_manners.py::test_piped_predict_json_is_the_whole_stdout": 3.4,
    "tests/test_cli_manners.py::test_runs_and_models_json": 3.1,
    "tests/test_cluster.py::test_cli_cluster": 3.2,
    "tests/test_cluster.py::test_cluster_equal_classes_and_sample": 3.0,
    "tests/test_cluster.py::test_cluster_on_run_features": 5.2,
    "tests/test_cluster.py::test_cluster_without_labels_and_single_class": 1.6,
    "tests/test_cluster.py::test_public_api_names_work_twice": 2.1,
    "tests/test_compare.py::test_cli_evaluate_compare_search": 2.9,
    "tests/test_compare.py::test_compare_multiclass_default_target_and_typo": 3.8,
    "tests/test_compare.py::test_compare_trains_scores_and_writes": 3.9,
    "tests/test_compare.py::test_search_logreg_trials_join_a_leaderboard": 6.4,
    "tests/test_compare.py::test_search_prunes_a_trial_below_the_median": 4.9,
    "tests/test_compare.py::test_search_resolution_uses_derived_caches": 7.3,
    "tests/test_detect.py::test_large_face_fallback_finds_what_the_first_cascade_misses": 2.7,
    "tests/test_embed.py::test_descriptors_cached_beside_the_cache_and_reused": 6.9,
    "tests/test_embed.py::test_interrupted_embedding_resumes": 8.2,
    "tests/test_embed.py::test_rebuilt_cache_invalidates": 3.3,
    "tests/test_embed.py::test_train_evaluate_predict[embed-knn]": 2.2,
    "tests/test_embed.py::test_train_evaluate_predict[embed-logreg]": 2.3,
    "tests/test_evaluate.py::test_images_the_run_trained_on_are_flagged": 2.3,
    "tests/test_explore.py::test_cli_explore": 1.6,
    "tests/test_explore.py::test_explore_prepared_fer_classes": 2.1,
    "tests/test_explore.py::test_explore_single_class_and_constant_attribute": 3.3,
    "tests/test_explore.py::test_explore_synthetic_celeba_source": 5.7,
    "tests/test_explore.py::test_explore_synthetic_for_the_demo": 5.7,
    "tests/test_explore_browser.py::test_report_opens_with_every_figure": 3.6,
    "tests/test_export.py::test_export_refuses_classical_runs_and_bad_checks": 1.9,
    "tests/test_generate.py::test_a_feature_run_framed_otherwise_than_the_cache_is_warned_about": 1.8,
    "tests/test_generate.py::test_attribute_agreement_and_frechet_with_a_feature_run": 1.7,
    "tests/test_generate.py::test_cli_train_runs_sample_and_errors": 1.5,
    "tests/test_generate.py::test_ctrl_c_saves_and_the_run_resumes": 1.6,
    "tests/test_generate.py::test_resume_continues_exactly_where_it_stopped": 2.6,
    "tests/test_generate.py::test_samples_that_all_look_alike_get_a_mode_collapse_warning": 2.3,
    "tests/test_generate.py::test_the_auxiliary_classifier_learns_the_attribute": 2.9,
    "tests/test_honest_outputs.py::test_predict_csv_and_json_carry_score_and_verdict": 2.5,
    "tests/test_models.py::test_every_model_trains_a_step_and_round_trips[embed-knn]": 9.7,
    "tests/test_models.py::test_every_model_trains_a_step_and_round_trips[embed-logreg]": 9.6,
    "tests/test_predict.py::test_exif_rotated_tilted_photo_is_found_and_classified_like_the_original": 5.2,
    "tests/test_predict.py::test_multiclass_grey_run": 1.7,
    "tests/test_prepare_detect.py::test_auto_detects_photos_not_crops": 7.5,
    "tests/test_prepare_detect.py::test_predict_frames_faces_as_the_cache": 7.8,
    "tests/test_prepare_lock.py::test_two_processes_preparing_at_once_share_one_complete_cache": 3.0,
    "tests/test_pretrained.py::test_cli_predict_photo_without_a_run": 4.9,
    "tests/test_pretrained.py::test_cli_predict_photo_without_a_run_json": 5.0,
    "tests/test_recipes.py::test_cli_prints_the_recipe_off_a_terminal": 7.9,
    "tests/test_review.py::test_review_page": 6.5,
    "tests/test_serve.py::test_facelab_serve_command_end_to_end": 3.5,
    "tests/test_synth.py::test_same_seed_same_files_whatever_the_workers": 2.4,
    "tests/test_synth.py::test_workers_from_piped_code_and_unguarded_scripts": 4.7,
    "tests/test_tracking.py::test_mlflow_default_store_under_runs_folder_for_a_classical_model": 1.9,
    "tests/test_train.py::test_seed_repeats_a_run_whose_epochs_fit_its_minutes": 1.5,
    "tests/test_train.py::test_sgd_run_resumes_with_its_momentum": 1.6,
    "tests/test_train_cli.py::test_runs_dir_option_on_every_run_command": 3.4,}


def mark_slow(items) -> None:
    """Mark the collected tests named in :data:`SLOW` as ``slow``."""
    for item in items:
        if item.nodeid in SLOW or item.nodeid.split("[")[0] in SLOW:
            item.add_marker(pytest.mark.slow)
