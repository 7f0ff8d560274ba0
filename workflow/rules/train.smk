# Training stage: one job per (model, seed). The resumable checkpoint is deliberately not an
# output (Snakemake deletes the outputs of a failed job); a re-run resumes from it.


rule train:
    input:
        data=rules.prepare_data.output.data,
    output:
        history=f"{RESULTS}/train/{{model}}/seed{{seed}}/history.csv",
        weights=f"{RESULTS}/train/{{model}}/seed{{seed}}/weights.pt",
        summary=f"{RESULTS}/train/{{model}}/seed{{seed}}/train.json",
        gradflow=f"{RESULTS}/train/{{model}}/seed{{seed}}/gradflow.json",
    log:
        f"{LOGS}/train/{{model}}-seed{{seed}}.log",
    benchmark:
        bench("train", per_job=True)
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=train_gpus,
        cpus_per_gpu=lambda wildcards, threads: threads,
        mem_mb=10000,
        runtime=train_runtime,
    params:
        cache=subpath(input.data, parent=True),
        recipe=train_recipe,
        data=lambda wildcards: data_spec(),
        out_dir=subpath(output.summary, parent=True),
        checkpoint=f"{RESULTS}/checkpoints/{{model}}-seed{{seed}}.pt",
    shell:
        "resrepro train --model {wildcards.model} --seed {wildcards.seed}"
        " --cache {params.cache:q} --data {params.data:q} --recipe {params.recipe:q}"
        " --out-dir {params.out_dir:q} --checkpoint {params.checkpoint:q} --gpu {resources.gpu} > {log:q} 2>&1"
