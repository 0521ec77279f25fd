#!/usr/bin/env bash
# The main job end to end, on a fresh machine and its CPU: install, make the demo data, train a small
# Recycle-GAN, translate the held-out frames and a held-out video, and print where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY=.venv/bin/python
# OpenMP's threads spin while waiting for work: beside another job on the same cores a step then took 20 times
# longer (docs/retarget.md#measured-ten-minutes-on-a-2-core-cpu); passive waits hand the core over
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
$PY scripts/make_demo_data.py --out datasets/demo
# small networks at 64 px; a unet_64 predictor because the frames are 64 px
net=(--which_model_netG resnet_6blocks --which_model_netP unet_64 --ngf 16 --ndf 16 --loadSize 64 --fineSize 64
     --no_dropout --gpu_ids -1)
start=$SECONDS
$PY train.py --dataroot datasets/demo --name demo_recycle_gan --model recycle_gan "${net[@]}" --pool_size 0 \
    --niter 4 --niter_decay 2 --seed 0 --display_id 0 --print_freq 48 --display_freq 48 --update_html_freq 144
$PY test.py --dataroot datasets/demo --name demo_recycle_gan --model recycle_gan "${net[@]}" \
    --dataset_mode unaligned --how_many 40
$PY test.py --video datasets/demo/videos/testA/clip00.mp4 --name demo_recycle_gan --model recycle_gan "${net[@]}" \
    --results_dir results/video --side_by_side
echo
echo "demo done in $((SECONDS - start)) s (training and testing)"
# the one command: a held-out video A in domain B's style, within a 2-minute budget (retarget.py picks the network
# that budget can train here); one thread per core unless set
OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(getconf _NPROCESSORS_ONLN)}" $PY retarget.py datasets/demo/videos/testA/clip00.mp4 \
    datasets/demo/videos/trainB --minutes 2 --display_id 0 --name demo_retarget --restart
echo "training page:    checkpoints/demo_recycle_gan/web/index.html"
echo "test results:     results/demo_recycle_gan/test_latest/index.html"
echo "translated video: results/video/demo_recycle_gan/test_latest/videos/clip00_fake_B.mp4 (and its page)"
echo "retargeted video: results/demo_retarget/clip00_as_trainB.mp4 (and _side_by_side.mp4, index.html)"
