# Evaluation stage: the test set, once, with the weights selected on validation.


rule evaluate:
    input:
        data=rules.prepare_data.output.data,
        weights=rules.train.output.weights,
    output:
        metrics=f"{RESULTS}/eval/{{model}}/seed{{seed}}/metrics.json",
        predictions=f"{RESULTS}/eval/{{model}}/seed{{seed}}/predictions.csv",
    log:
        f"{LOGS}/evaluate/{{model}}-seed{{seed}}.log",
    benchmark:
        bench("evaluate", per_job=True)
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=train_gpus,
        cpus_per_gpu=lambda wildcards, threads: threads,
    params:
        cache=subpath(input.data, parent=True),
        data=lambda wildcards: data_spec(),
        out_dir=subpath(output.metrics, parent=True),
        batch=config["train"]["eval_batch_size"],
        device=config["train"]["device"],
        pack=config["train"]["pack"],
    shell:
        "resrepro evaluate --model {wildcards.model} --cache {params.cache:q} --data {params.data:q}"
        " --weights {input.weights:q} --batch-size {params.batch} --device {params.device}"
        " --pack {params.pack} --gpu {resources.gpu} --out-dir {params.out_dir:q} > {log:q} 2>&1"
